package dev.vmlet.vm;

import dev.vmlet.spec.VmException;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.qmp.QmpClient;
import java.io.IOException;
import java.time.Duration;
import java.util.logging.Logger;
import dev.vmlet.proto.agent.v1.PowerRequest;

/**
 * Ends a VM's QEMU one bounded step after another: the agent's poweroff and ACPI powerdown, then
 * QMP quit, then SIGTERM, then SIGKILL. With force the graceful step is skipped.
 */
final class StopLadder {
  private static final Logger LOG = Logger.getLogger(StopLadder.class.getName());

  private StopLadder() {}

  /**
   * Returns once QEMU is gone. Caller owns the VM (holds its monitor).
   *
   * @param from the state the VM was in before the stop (a paused guest cannot react to the power button)
   * @throws VmException INTERNAL when QEMU survives SIGKILL
   */
  static void run(VmRuntime vm, VmState from, boolean force, Duration graceful) {
    VmSnapshot now = vm.now();
    ProcessHandle p = now.process();
    QmpClient qmp = now.qmp();
    boolean gone = p == null || !QemuProcess.isRunning(p);
    String who = "VM " + vm.name() + " (" + now.record().instanceId() + "): ";
    if (!gone && !force && from != VmState.PAUSED && qmp != null) {
      // The agent's power request too: it reaches guests that ignore the ACPI button. Not
      // waited for (its answer comes on the link's thread); the guest going away is what counts.
      boolean viaAgent = askAgentToPowerOff(now.readyAgent());
      LOG.info(who + "stop: " + (viaAgent ? "agent poweroff and " : "") + "ACPI powerdown, waiting up to " + graceful.toSeconds() + " s");
      boolean asked = askQmp(qmp, "system_powerdown") || viaAgent;
      gone = asked && QemuProcess.awaitExit(p, graceful);
    }
    if (!gone && qmp != null) {
      LOG.info(who + "stop: QMP quit");
      gone = askQmp(qmp, "quit") && QemuProcess.awaitExit(p, Duration.ofSeconds(3));
    }
    if (!gone) {
      LOG.warning(who + "stop: SIGTERM to QEMU pid " + p.pid());
      p.destroy();
      gone = QemuProcess.awaitExit(p, Duration.ofSeconds(3));
    }
    if (!gone) {
      LOG.warning(who + "stop: SIGKILL to QEMU pid " + p.pid());
      p.destroyForcibly();
      gone = QemuProcess.awaitExit(p, Duration.ofSeconds(5));
    }
    if (!gone) {
      throw new VmException(VmException.Kind.INTERNAL, "QEMU pid " + p.pid() + " of VM '" + vm.name() + "' survived SIGKILL");
    }
  }

  private static boolean askAgentToPowerOff(AgentLink agent) {
    if (agent == null) {
      return false;
    }
    try {
      agent.power(PowerRequest.Action.POWEROFF);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean askQmp(QmpClient qmp, String command) {
    try {
      // QEMU can exit before its answer to quit is read; the exit wait that follows decides.
      qmp.execute(command, null, VmManager.QMP_TIMEOUT);
      return true;
    } catch (IOException e) {
      return command.equals("quit");
    }
  }
}
