package dev.vmlet.vm;

import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.VmConfig;
import java.util.List;

/**
 * What the daemon persists about one VM, written atomically by {@link VmStore} after each
 * successful side effect. Immutable: every change makes a new record.
 */
public record VmRecord(
    VmConfig config,
    String instanceId,
    VmState state,
    long pid,
    String accel,
    String accelReason,
    long startedAtMs,
    String lastError,
    String qemuCommand,
    List<PortForward> activeForwards,
    VmOwner owner) {

  public VmRecord {
    activeForwards = activeForwards == null ? List.of() : List.copyOf(activeForwards);
  }

  /**
   * The record of a VM just created: CREATED, never started, so no pid, accelerator, start time,
   * error, QEMU command line or forwards yet. The other states are reached with the {@code with}
   * methods, so no caller spells those defaults out by position.
   *
   * @param owner who created it; null when no caller is known (an in-process caller), as in a
   *     record made before owners were kept
   */
  public static VmRecord created(VmConfig config, String instanceId, VmOwner owner) {
    return new VmRecord(config, instanceId, VmState.CREATED, 0, "", "", 0, "", "", List.of(), owner);
  }

  public VmRecord withConfig(VmConfig c) {
    return new VmRecord(c, instanceId, state, pid, accel, accelReason, startedAtMs, lastError, qemuCommand, activeForwards, owner);
  }

  public VmRecord withState(VmState s) {
    return new VmRecord(config, instanceId, s, pid, accel, accelReason, startedAtMs, lastError, qemuCommand, activeForwards, owner);
  }

  public VmRecord withStarted(long newPid, String newAccel, String reason, long atMs, String command,
      List<PortForward> forwards) {
    return new VmRecord(config, instanceId, state, newPid, newAccel, reason, atMs, "", command, forwards, owner);
  }

  public VmRecord withError(String error) {
    return new VmRecord(config, instanceId, state, pid, accel, accelReason, startedAtMs, error, qemuCommand, activeForwards, owner);
  }

  public VmRecord withPid(long newPid) {
    return new VmRecord(config, instanceId, state, newPid, accel, accelReason, startedAtMs, lastError, qemuCommand, activeForwards, owner);
  }
}
