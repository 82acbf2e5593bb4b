package dev.vmlet.vm;

import com.google.gson.JsonElement;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.NewSession;
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
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;
import java.util.logging.Logger;

/**
 * The live connections to one VM's QEMU (serial console, QMP, agent link): opening them, keeping
 * the VM's agent state current from what the agent reports, and closing them. What the links' threads
 * learn is reported without the VM's owner (see {@link VmRuntime}) and only for the QEMU they were
 * opened to: a late word from a link of an earlier QEMU changes nothing.
 */
final class VmLinks {
  private static final Logger LOG = Logger.getLogger(VmLinks.class.getName());
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  private final Duration agentHeartbeat = AgentLink.DEFAULT_HEARTBEAT;
  private final Clock clock;
  private final VmEvents events;
  private final BiConsumer<VmRuntime, ProcessHandle> qemuGone;

  /** @param qemuGone called on QMP's reader thread with the VM's QEMU when its QMP socket closes (QEMU exited) */
  VmLinks(Clock clock, VmEvents events, BiConsumer<VmRuntime, ProcessHandle> qemuGone) {
    this.clock = clock;
    this.events = events;
    this.qemuGone = qemuGone;
  }

  /**
   * Connects the console, QMP and the agent link of the VM's QEMU (the snapshot's process) and
   * publishes them. Caller owns the VM. On failure, what was opened is published all the same and
   * the caller decides: a start drops it with its QEMU; a re-adoption keeps it (an open QMP still
   * tells when that QEMU exits).
   */
  void connect(VmRuntime vm) throws IOException {
    VmSnapshot s = vm.now();
    ProcessHandle qemu = s.process();
    QemuLinks opened = new QemuLinks(null, null, null);
    try {
      opened = new QemuLinks(ConsoleLink.connect(vm.name(), vm.files.consoleSocket(), vm.files.consoleLog(), CONNECT_TIMEOUT),
          null, null);
      opened = new QemuLinks(opened.console(), QmpClient.connect(vm.files.qmpSocket(), CONNECT_TIMEOUT,
          e -> onQmpEvent(vm, qemu, e), () -> qemuGone.accept(vm, qemu)), null);
      opened = new QemuLinks(opened.console(), opened.qmp(), connectAgent(vm, s.record(), qemu));
    } finally {
      QemuLinks links = opened;
      vm.publish(x -> x.withLinks(links));
    }
  }

  private AgentLink connectAgent(VmRuntime vm, VmRecord record, ProcessHandle qemu) throws IOException {
    Path agentSocket = record.config().platform().agentOnSerial() ? vm.files.agentSerialSocket() : vm.files.agentSocket();
    // A QEMU started with the token in fw_cfg: its agent must prove it holds it. (One re-adopted from
    // before tokens existed has none to prove.)
    byte[] token = record.qemuCommand().contains(QemuCommandBuilder.TOKEN_FW_CFG) && Files.exists(vm.files.agentToken())
        ? Files.readAllBytes(vm.files.agentToken()) : null;
    // The Hello may come before connect returns; the cloud-init watch needs the link itself.
    CompletableFuture<AgentLink> self = new CompletableFuture<>();
    AgentLink link = AgentLink.connect(vm.name(), record.instanceId(), agentSocket, CONNECT_TIMEOUT, agentHeartbeat,
        new AgentLink.Events() {
          @Override
          public void ready(Hello hello) {
            agentReady(vm, qemu, hello, 0, self);
          }

          @Override
          public void ready(Hello hello, long helloArrivedAtMs) {
            agentReady(vm, qemu, hello, helloArrivedAtMs, self);
          }

          @Override
          public void lost(String reason) {
            agentGone(vm, qemu, reason);
          }

          @Override
          public void refused(String reason) {
            reportFor(vm, qemu, x -> x.withAgent(x.agent().refused(reason)));
          }

          @Override
          public void closed() {
            agentGone(vm, qemu, "agent link closed");
          }
        }, token);
    self.complete(link);
    return link;
  }

  /** Reports {@code change} if the VM still runs {@code qemu}; returns the VM as it was before, or null if it does not. */
  private static VmSnapshot reportFor(VmRuntime vm, ProcessHandle qemu, UnaryOperator<VmSnapshot> change) {
    VmSnapshot[] before = new VmSnapshot[1];
    vm.report(x -> {
      before[0] = x;
      return x.process() == qemu ? change.apply(x) : x;
    });
    return before[0].process() == qemu ? before[0] : null;
  }

  private void agentReady(VmRuntime vm, ProcessHandle qemu, Hello hello, long helloArrivedAtMs, CompletableFuture<AgentLink> link) {
    long at = clock.millis();
    var steps = hello.getBootTimes();
    // A clone's guest did not boot: its boot clock is the template's, so there is no boot to break down.
    boolean clone = vm.record().qemuCommand().contains("-incoming defer");
    VmSnapshot before = reportFor(vm, qemu, x -> x.withAgent(x.agent().ready(hello, at, clone ? null
        : BootBreakdown.of(x.record().startedAtMs(), helloArrivedAtMs, at, steps.getInitMs(), steps.getAgentExecMs(),
            steps.getAgentMainMs(), steps.getHelloMs()))));
    if (before == null) {
      return;
    }
    Hello previous = before.agent().hello();
    if (previous != null) {
      // A new session while the old one was never reported gone (a reset guest or a restarted
      // agent says Hello before the heartbeats miss): watchers hear that the old one ended.
      events.emit(vm, LifecycleEvent.Kind.AGENT_LOST, NewSession.why(null, previous, hello));
    }
    events.emit(vm, LifecycleEvent.Kind.AGENT_CONNECTED, "agent " + hello.getAgentVersion() + ", boot " + hello.getBootId());
    if (clone && before.agent().hello() == null) {
      long start = before.record().startedAtMs();
      LOG.info("VM " + vm.name() + ": clone agent ready, ms after the start: Hello arrived "
          + (helloArrivedAtMs > 0 ? helloArrivedAtMs - start : -1) + ", ready " + (at - start));
    } else if (!hello.getBootId().equals(before.agent().bootId())) {
      BootBreakdown b = vm.now().agent().boot();
      LOG.info("VM " + vm.name() + ": agent ready " + (at - before.record().startedAtMs()) + " ms after QEMU start"
          + (b == null ? "" : " (firmware " + b.firmwareMs() + ", kernel " + b.kernelMs() + ", init " + b.initMs() + ", agent JVM "
              + b.agentJvmMs() + ", agent main " + b.agentMainMs() + ", handshake " + b.handshakeMs() + " ms)"));
    }
    BootTimeline t = before.timeline();
    if (t != null && t.cloudInitDoneAtMs == 0) {
      link.thenAccept(l -> t.watchCloudInit(vm.name(), l));
    }
  }

  private void agentGone(VmRuntime vm, ProcessHandle qemu, String reason) {
    VmSnapshot before = reportFor(vm, qemu, x -> x.withAgent(x.agent().lost()));
    if (before != null && before.agent().hello() != null) {
      events.emit(vm, LifecycleEvent.Kind.AGENT_LOST, reason);
    }
  }

  private static void onQmpEvent(VmRuntime vm, ProcessHandle qemu, QmpEvent e) {
    LOG.fine("VM " + vm.name() + ": QMP event " + e.name() + " " + e.data());
    if (e.name().equals("SHUTDOWN")) {
      // Reported, not owned: this runs on the QMP reader thread, and a stop that owns the VM waits
      // for that thread to read QEMU's answers (waiting for the owner here stalled 'quit' by 5 s).
      JsonElement guest = e.data().get("guest");
      boolean byGuest = guest != null && guest.getAsBoolean();
      reportFor(vm, qemu, x -> x.withGuestShutdown(byGuest));
    }
  }

  /**
   * Closes the links and forgets them with the QEMU process: QEMU is gone. Caller owns the VM. A
   * connected agent is reported lost here, with {@code why}, before its link closes: the link's own
   * "closed" callback may come after the QEMU is forgotten, and then says nothing, so without this
   * a stop could end an agent's session without a word to watchers.
   */
  static void drop(VmRuntime vm, VmEvents events, String why) {
    ProcessHandle qemu = vm.now().process();
    VmSnapshot before = reportFor(vm, qemu, x -> x.withAgent(x.agent().lost()));
    if (before != null && before.agent().hello() != null) {
      events.emit(vm, LifecycleEvent.Kind.AGENT_LOST, why);
    }
    closeAll(vm);
    vm.publish(VmSnapshot::withoutQemu);
  }

  /** Closes the links of a VM whose QEMU may keep running (the daemon is going away). */
  static void closeAll(VmRuntime vm) {
    QemuLinks links = vm.now().links();
    if (links != null) {
      links.close();
    }
  }
}
