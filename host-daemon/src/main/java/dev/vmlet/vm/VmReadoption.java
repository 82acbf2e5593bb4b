package dev.vmlet.vm;

import dev.vmlet.qemu.QemuIdentity;
import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.share.Virtiofsd;
import dev.vmlet.tpm.Swtpm;
import dev.vmlet.vfio.Gpus;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * A daemon's start: loads the persisted VMs and re-adopts the QEMU processes that still run, found
 * by {@link QemuProcess#lookUp} (pidfile, recorded pid, command line; see {@link QemuIdentity}).
 *
 * <p>What is decided, VM by VM:
 * <ul>
 *   <li>no QEMU of the VM runs: CRASHED (STOPPED when it was being stopped), saying why none matched;
 *   <li>the VM was STARTING (the last daemon died during its start, before it was connected): its
 *       QEMU is ended and the VM CRASHED, saying so, since nothing of that start can be trusted
 *       (a clone may still wait for its template's state);
 *   <li>its QEMU runs: adopted. A QEMU that does not answer at once (a loaded machine, a QEMU
 *       stopped with SIGSTOP) is never judged dead for it: it stays the VM's, RUNNING with the reason
 *       in its error, and a thread of its own connects again every {@link #RETRY} until it answers,
 *       exits (then CRASHED or STOPPED as any exit) or {@link #patience} runs out. Then, and only
 *       while its identity still holds, it is ended (SIGTERM, SIGKILL) and the VM CRASHED with the
 *       reason: a QEMU the daemon cannot reach is never left running without an owner.
 * </ul>
 */
final class VmReadoption {
  private static final Logger LOG = Logger.getLogger(VmReadoption.class.getName());
  static final Duration RETRY = Duration.ofSeconds(2);
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);
  private final VmStore store;
  private final VmEvents events;
  private final VmLinks links;
  private final VmTeardown teardown;
  private final Gpus gpus;
  private volatile Duration patience = Duration.ofMinutes(5);

  VmReadoption(VmStore store, VmEvents events, VmLinks links, VmTeardown teardown, Gpus gpus) {
    this.store = store;
    this.events = events;
    this.links = links;
    this.teardown = teardown;
    this.gpus = gpus;
  }

  /** How long a QEMU that runs but does not answer is waited for before it is ended (tests shorten it). */
  void patience(Duration d) {
    patience = d;
  }

  /** Adds every persisted VM to {@code vms}, each as its QEMU is found. */
  void recover(VmTable vms, Function<String, VmFiles> filesOf) {
    for (VmRecord r : store.loadAll()) {
      VmRuntime vm = new VmRuntime(r, filesOf.apply(r.config().name()));
      vms.add(vm);
      VmState s = r.state();
      if (s == VmState.RUNNING || s == VmState.PAUSED || s == VmState.STARTING || s == VmState.STOPPING) {
        synchronized (vm) {
          readopt(vm, r);
        }
      }
    }
    // GPUs a VM still holds that no longer runs (it crashed while no daemon watched) go back now.
    Set<String> running = vms.all().stream().filter(v -> v.now().process() != null).map(VmRuntime::name).collect(Collectors.toSet());
    gpus.recover(running);
  }

  private void readopt(VmRuntime vm, VmRecord r) {
    QemuProcess.Lookup found = QemuProcess.lookUp(vm.files.pidFile(), r.pid(), r.startedAtMs());
    if (found.qemu().isEmpty()) {
      // Its virtiofsd processes (shares) and swtpm end with it; one that never saw QEMU connect would stay.
      Virtiofsd.stopAll(vm.files.runDir());
      Swtpm.stop(vm.files.runDir());
      VmState to = r.state() == VmState.STOPPING ? VmState.STOPPED : VmState.CRASHED;
      String why = r.pid() == 0 ? "the daemon stopped before this VM's QEMU was started"
          : "QEMU (pid " + r.pid() + ") exited while the daemon was down";
      LOG.warning("VM " + vm.name() + " (" + r.instanceId() + "): " + why + " (" + found.why() + ")");
      events.transition(vm, to, "recover", x -> x.withError(why));
      store.save(vm.record());
      return;
    }
    ProcessHandle qemu = found.qemu().get();
    vm.publish(x -> x.withQemu(qemu, null).withRecord(x.record().withPid(qemu.pid())));
    if (r.state() == VmState.STARTING) {
      end(vm, qemu, "the daemon stopped while it started this VM; its QEMU (pid " + qemu.pid()
          + ") was never connected and was ended: start the VM again");
      return;
    }
    if (tryConnect(vm, qemu, 1)) {
      return;
    }
    Thread t = new Thread(() -> keepTrying(vm, qemu), "vm-readopt-" + vm.name());
    t.setDaemon(true);
    t.start();
  }

  /** Connects the links of {@code qemu}; false (with the reason in the VM's error) when it did not answer. Caller owns the VM. */
  private boolean tryConnect(VmRuntime vm, ProcessHandle qemu, int attempt) {
    VmLinks.closeAll(vm); // what an earlier attempt opened
    try {
      links.connect(vm);
      vm.publish(x -> x.withRecord(x.record().withError("")));
      store.save(vm.record());
      LOG.info("VM " + vm.name() + " (" + vm.record().instanceId() + "): re-adopted QEMU pid " + qemu.pid()
          + (attempt > 1 ? " at attempt " + attempt : ""));
      return true;
    } catch (IOException e) {
      notAnswered(vm, qemu, attempt, e.getMessage());
      return false;
    }
  }

  private static void notAnswered(VmRuntime vm, ProcessHandle qemu, int attempt, String reason) {
    String why = "re-adopting: QEMU pid " + qemu.pid() + " runs but did not answer (attempt " + attempt + "): " + reason;
    LOG.warning("VM " + vm.name() + ": " + why);
    vm.publish(x -> x.withRecord(x.record().withError(why)));
  }

  /** Connects again until {@code qemu} answers, exits or {@link #patience} runs out; on the VM's thread of its own. */
  private void keepTrying(VmRuntime vm, ProcessHandle qemu) {
    long deadline = System.nanoTime() + patience.toNanos();
    for (int attempt = 2; ; attempt++) {
      try {
        Thread.sleep(RETRY.toMillis()); // the pause between attempts, not a synchronisation
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      // Waiting for a silent QEMU happens here, without the VM's lock: a stop or delete of the VM
      // meanwhile is not held up by it. Only a QEMU that greeted is then connected under the lock.
      String silent = silence(vm, PROBE_TIMEOUT);
      synchronized (vm) {
        if (teardown.closing() || vm.now().process() != qemu) {
          return; // the daemon is going away, or a stop or delete already accounted for this QEMU
        }
        if (!QemuProcess.isRunning(qemu)) {
          teardown.onQemuGone(vm, qemu); // as any exit: STOPPED or CRASHED, files released
          return;
        }
        if (silent == null && tryConnect(vm, qemu, attempt)) {
          return;
        }
        if (silent != null) {
          notAnswered(vm, qemu, attempt, silent);
        }
        if (System.nanoTime() >= deadline) {
          end(vm, qemu, "QEMU pid " + qemu.pid() + " ran but did not answer for " + patience.toSeconds()
              + " s after the daemon restarted, and was ended (last: " + vm.record().lastError() + ")");
          return;
        }
      }
    }
  }

  /**
   * Null when the VM's QEMU greets on QMP and negotiates within {@code timeout} (the probe's
   * connection is closed again), else why not.
   */
  private static String silence(VmRuntime vm, Duration timeout) {
    try (QmpClient probe = QmpClient.connect(vm.files.qmpSocket(), timeout, e -> { }, () -> { })) {
      return null;
    } catch (IOException e) {
      return e.getMessage();
    }
  }

  /**
   * Ends a QEMU of the VM that cannot be adopted, by its pid, after checking again that it is the
   * VM's, and marks the VM CRASHED with {@code why}. Caller owns the VM.
   */
  private void end(VmRuntime vm, ProcessHandle qemu, String why) {
    Optional<String> stranger = QemuIdentity.read(qemu.pid()).mismatch(vm.files.pidFile(), vm.record().startedAtMs());
    if (stranger.isEmpty()) {
      LOG.warning("VM " + vm.name() + " (" + vm.record().instanceId() + "): " + why);
      try {
        StopLadder.run(vm, vm.record().state(), true, Duration.ZERO);
      } catch (RuntimeException e) {
        LOG.warning("VM " + vm.name() + ": " + e.getMessage());
      }
    }
    VmLinks.drop(vm, events, "QEMU was ended");
    teardown.release(vm);
    teardown.settle(vm, VmState.CRASHED, "recover", r -> r.withError(why).withPid(0));
  }
}
