package dev.vmlet.vm;

import com.google.gson.JsonElement;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.qmp.QmpEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * The live connections to one VM's QEMU (serial console, QMP, agent link): opening them, keeping
 * the VM's agent fields current from what the agent reports, and closing them.
 */
final class VmLinks {
  private static final Logger LOG = Logger.getLogger(VmLinks.class.getName());
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private final Duration agentHeartbeat = AgentLink.DEFAULT_HEARTBEAT;
  private final Clock clock;
  private final VmEvents events;
  private final Consumer<VmRuntime> qemuGone;

  /** @param qemuGone called on QMP's reader thread when the QMP socket closes (QEMU exited) */
  VmLinks(Clock clock, VmEvents events, Consumer<VmRuntime> qemuGone) {
    this.clock = clock;
    this.events = events;
    this.qemuGone = qemuGone;
  }

  /** Connects the console, QMP and the agent link of a VM whose QEMU runs. Caller holds the VM's monitor. */
  void connect(VmRuntime vm) throws IOException {
    vm.console = ConsoleLink.connect(vm.name(), vm.files.consoleSocket(), vm.files.consoleLog(), CONNECT_TIMEOUT);
    vm.qmp = QmpClient.connect(vm.files.qmpSocket(), CONNECT_TIMEOUT, e -> onQmpEvent(vm, e), () -> qemuGone.accept(vm));
    Path agentSocket = vm.record.config().platform().agentOnSerial() ? vm.files.agentSerialSocket() : vm.files.agentSocket();
    // A QEMU started with the token in fw_cfg: its agent must prove it holds it. (One re-adopted from
    // before tokens existed has none to prove.)
    byte[] token = vm.record.qemuCommand().contains(QemuCommandBuilder.TOKEN_FW_CFG) && Files.exists(vm.files.agentToken())
        ? Files.readAllBytes(vm.files.agentToken()) : null;
    vm.agent = AgentLink.connect(vm.name(), vm.record.instanceId(), agentSocket, CONNECT_TIMEOUT, agentHeartbeat,
        new AgentLink.Events() {
          @Override
          public void ready(Hello hello) {
            agentReady(vm, hello);
          }

          @Override
          public void lost(String reason) {
            agentGone(vm, reason);
          }

          @Override
          public void refused(String reason) {
            synchronized (vm) {
              vm.agentRefusal = reason;
            }
          }

          @Override
          public void closed() {
            agentGone(vm, "agent link closed");
          }
        }, token);
  }

  private void agentReady(VmRuntime vm, Hello hello) {
    boolean newBoot;
    synchronized (vm) {
      newBoot = !hello.getBootId().equals(vm.agentBootId);
      Hello previous = vm.hello;
      if (previous != null) {
        // A new session while the old one was never reported gone (a reset guest or a restarted
        // agent says Hello before the heartbeats miss): watchers hear that the old one ended.
        events.emit(vm, LifecycleEvent.Kind.AGENT_LOST, newBoot ? "the guest rebooted"
            : !previous.getAgentStartId().equals(hello.getAgentStartId()) ? "the agent restarted" : "the agent started a new session");
      }
      vm.hello = hello;
      vm.agentRefusal = null;
      if (newBoot) {
        vm.agentBootId = hello.getBootId();
        vm.agentReadyAtMs = clock.millis();
      }
      vm.notifyAll();
      events.emit(vm, LifecycleEvent.Kind.AGENT_CONNECTED, "agent " + hello.getAgentVersion() + ", boot " + hello.getBootId());
    }
    if (newBoot) {
      LOG.info("VM " + vm.name() + ": agent ready " + (vm.agentReadyAtMs - vm.record.startedAtMs()) + " ms after QEMU start");
    }
    BootTimeline t = vm.timeline;
    if (t != null && t.cloudInitDoneAtMs == 0 && vm.agent != null) {
      t.watchCloudInit(vm.name(), vm.agent);
    }
  }

  private void agentGone(VmRuntime vm, String reason) {
    synchronized (vm) {
      if (vm.hello != null) {
        events.emit(vm, LifecycleEvent.Kind.AGENT_LOST, reason);
      }
      vm.hello = null;
      vm.notifyAll();
    }
  }

  private static void onQmpEvent(VmRuntime vm, QmpEvent e) {
    LOG.fine("VM " + vm.name() + ": QMP event " + e.name() + " " + e.data());
    if (e.name().equals("SHUTDOWN")) {
      // No VM monitor here: this runs on the QMP reader thread, and a stop that holds the monitor
      // waits for that thread to read QEMU's answers (taking the lock stalled 'quit' by 5 s).
      JsonElement guest = e.data().get("guest");
      vm.guestShutdown = guest != null && guest.getAsBoolean();
    }
  }

  /**
   * Closes the links and forgets them with the QEMU process: QEMU is gone. Caller holds the VM's
   * monitor. A connected agent is reported lost here, with {@code why}: the link's own "closed"
   * callback waits for the monitor and then finds no agent, so without this a stop would end an
   * agent's session without a word to watchers.
   */
  void drop(VmRuntime vm, String why) {
    if (vm.hello != null) {
      events.emit(vm, LifecycleEvent.Kind.AGENT_LOST, why);
    }
    closeAll(vm);
    vm.console = null;
    vm.agent = null;
    vm.qmp = null;
    vm.hello = null;
    vm.process = null;
  }

  /** Closes the links of a VM whose QEMU may keep running (the daemon is going away). */
  static void closeAll(VmRuntime vm) {
    for (AutoCloseable c : new AutoCloseable[] {vm.agent, vm.qmp, vm.console}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception ignored) {
        // closing a link to a QEMU that is gone or left running
      }
    }
  }
}
