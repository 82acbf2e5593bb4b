package dev.vmlet.cli;

import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmState;
import java.util.Locale;

/**
 * What `vmlet ssh` tells while the guest's SSH server is not up yet: how far the boot is (agent,
 * cloud-init) in words a user acts on. A function of the VM and the time, so it is tested alone.
 */
final class SshWait {
  private SshWait() {}

  /** The boot as far as the daemon knows it, e.g. "started 12 s ago; agent not connected yet; cloud-init running". */
  static String boot(Vm v, long nowMs) {
    StringBuilder b = new StringBuilder();
    if (v.getStartedAtUnixMs() > 0) {
      b.append("started ").append(Math.max(0, (nowMs - v.getStartedAtUnixMs()) / 1000)).append(" s ago; ");
    }
    b.append(v.getAgentReady() ? "agent connected" : "agent not connected yet").append("; ");
    if (v.getCloudInitDoneUnixMs() > 0) {
      b.append("cloud-init finished ").append(seconds(v.getCloudInitDoneUnixMs() - v.getStartedAtUnixMs())).append(" after the start");
    } else {
      // The daemon learns it from the agent (cloud-init status --wait): no estimate before that.
      b.append("cloud-init not finished yet (vmlet info shows the moment it does)");
    }
    return b.toString();
  }

  /** Why ssh would fail now, plainly, and what to do. */
  static String notUp(String name, Vm v, long nowMs, long waitedSeconds) {
    if (v.getState() != VmState.RUNNING) {
      return "VM '" + name + "' is " + v.getState() + ", not RUNNING: SSH will not come up (vmlet start " + name + ")";
    }
    return "SSH is not up yet in VM '" + name + "': nothing answers as an SSH server on " + v.getSshHost() + ":" + v.getSshPort()
        + (waitedSeconds > 0 ? " after waiting " + waitedSeconds + " s" : "") + " (" + boot(v, nowMs) + "). "
        + "Try again later, wait longer with --wait SECONDS, or watch the boot with: vmlet console " + name;
  }

  private static String seconds(long ms) {
    return String.format(Locale.ROOT, "%.1f s", Math.max(0, ms) / 1000.0);
  }
}
