package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * What callers read of VMs, and the links they use: each answer is built from one {@link
 * VmSnapshot}, taken without the VM's owner, so none waits for a start, a stop or QEMU. Only {@link
 * #awaitAgentReady} waits, and only for the agent, within its own bound.
 */
final class VmReads {
  private final VmTable vms;

  VmReads(VmTable vms) {
    this.vms = vms;
  }

  VmView get(String name) {
    return view(vms.require(name));
  }

  List<VmView> list() {
    List<VmView> out = new ArrayList<>();
    for (VmRuntime vm : vms.all()) {
      out.add(view(vm));
    }
    out.sort(Comparator.comparing(v -> v.record().config().name()));
    return out;
  }

  boolean isRunning(String name) {
    VmRuntime vm = vms.find(name);
    ProcessHandle p = vm == null ? null : vm.now().process();
    return p != null && p.isAlive();
  }

  /** See {@link VmManager#agent}. */
  AgentLink agent(String name) {
    VmRuntime vm = vms.require(name);
    VmSnapshot s = vm.now();
    VmTransitions.require(name, s.record().state(), VmTransitions.Operation.EXEC);
    AgentLink link = s.readyAgent();
    if (link == null) {
      throw new VmException(VmException.Kind.UNAVAILABLE, "the agent of VM '" + name + "' is not connected yet; try again shortly");
    }
    return link;
  }

  /** See {@link VmManager#openConsole}. */
  VmManager.ConsoleSession openConsole(String name, Consumer<byte[]> out, Runnable ended) {
    VmRuntime vm = vms.require(name);
    VmSnapshot s = vm.now();
    VmTransitions.require(name, s.record().state(), VmTransitions.Operation.CONSOLE);
    ConsoleLink console = s.console();
    if (console == null) {
      throw new VmException(VmException.Kind.UNAVAILABLE, "the console of VM '" + name + "' is not connected");
    }
    // Attaching to a console that is closing runs ended at once.
    return new VmManager.ConsoleSession(console, console.attach(out, ended));
  }

  /** See {@link VmManager#awaitAgentReady}. */
  VmView awaitAgentReady(String name, Duration timeout) throws InterruptedException {
    VmRuntime vm = vms.require(name);
    long deadline = System.nanoTime() + timeout.toNanos();
    VmSnapshot s = vm.await(x -> x.agent().hello() != null
        || !VmTransitions.Operation.WAIT_FOR_AGENT.allowedIn(x.record().state()), deadline);
    if (s.agent().hello() != null) {
      return view(vm, s);
    }
    VmTransitions.require(name, s.record().state(), VmTransitions.Operation.WAIT_FOR_AGENT);
    String refusal = s.agent().refusal();
    if (refusal != null) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, refusal);
    }
    // Finding out why may ask the guest over SSH: this holds nothing of the VM's.
    throw new VmException(VmException.Kind.DEADLINE_EXCEEDED, "the agent of VM '" + name + "' did not phone home within "
        + timeout.toSeconds() + " s" + BootTimeline.whyNoAgent(s.timeline(), s.record().startedAtMs(), vm.files.consoleLog(),
        identity(vm)));
  }

  private static VmView view(VmRuntime vm) {
    return view(vm, vm.now());
  }

  private static VmView view(VmRuntime vm, VmSnapshot s) {
    BootTimeline t = s.timeline();
    ConsoleLink console = s.console();
    Path identity = identity(vm);
    return new VmView(s.record(), s.agent().hello(), s.agent().readyAtMs(), vm.files.consoleLog(),
        t == null ? 0 : t.cloudInitDoneAtMs, t == null ? 0 : t.sshReadyAtMs, Files.exists(identity) ? identity : null,
        // Only for a boot this daemon started: after a re-adoption the first output seen is not the boot's.
        t != null && console != null ? console.firstOutputAtMs() : 0, s.agent().boot());
  }

  private static Path identity(VmRuntime vm) {
    return vm.files.sshDir().resolve("id_ed25519");
  }
}
