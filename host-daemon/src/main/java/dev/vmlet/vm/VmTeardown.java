package dev.vmlet.vm;

import dev.vmlet.fs.FileTrees;
import dev.vmlet.share.Virtiofsd;
import dev.vmlet.tpm.Swtpm;
import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.spec.VmException;
import dev.vmlet.vfio.Gpus;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.logging.Logger;

/**
 * How a VM's QEMU goes away, asked (a stop) or not (a crash, the guest powering off), and what goes
 * with it. The rule every path keeps: the VM's links are dropped, its run directory deleted and its
 * GPUs given back before its state says STOPPED or CRASHED, so that a reader who sees that state
 * finds nothing of the VM's still running or open.
 */
final class VmTeardown {
  private static final Logger LOG = Logger.getLogger(VmTeardown.class.getName());
  private final VmStore store;
  private final VmEvents events;
  private final Gpus gpus;
  private volatile boolean closing;

  VmTeardown(VmStore store, VmEvents events, Gpus gpus) {
    this.store = store;
    this.events = events;
    this.gpus = gpus;
  }

  /** See {@link VmManager#stop}. */
  VmRecord stop(VmRuntime vm, boolean force, Duration graceful) {
    String name = vm.name();
    synchronized (vm) {
      VmState s = vm.record().state();
      VmTransitions.require(name, s, VmTransitions.Operation.STOP);
      if (!force) {
        store.save(vm.record()); // refused before anything is done when the state cannot be saved
      }
      if (s == VmState.STOPPED || s == VmState.CRASHED) {
        if (s == VmState.CRASHED) {
          events.transition(vm, VmState.STOPPED, "stop");
          store.save(vm.record());
        }
        return vm.record();
      }
      events.transition(vm, VmState.STOPPING, "stop");
      StopLadder.run(vm, s, force, graceful);
      VmLinks.drop(vm, events, "the VM stopped");
      // QEMU is gone: its ports and cards are released even when the state cannot be written.
      release(vm);
      settle(vm, VmState.STOPPED, "stop", r -> r.withPid(0));
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): stopped");
      return vm.record();
    }
  }

  /**
   * The QMP socket of {@code qemu} closed: it is gone, or going. On a thread of its own (it waits
   * for the owner, and QMP's reader thread must not), decides STOPPED or CRASHED and releases the
   * VM's files, unless {@code qemu} is no longer the VM's (a stop or a failed start saw to it).
   */
  void onQemuGone(VmRuntime vm, ProcessHandle qemu) {
    Thread t = new Thread(() -> settleExit(vm, qemu), "vm-exit-" + vm.name());
    t.setDaemon(true);
    t.start();
  }

  private void settleExit(VmRuntime vm, ProcessHandle qemu) {
    synchronized (vm) {
      if (closing) {
        return; // the daemon is going away; QEMU keeps running
      }
      VmSnapshot now = vm.now();
      if (now.process() != qemu) {
        return; // a stop, or a start that failed, already accounted for it
      }
      if (!QemuProcess.awaitExit(qemu, Duration.ofSeconds(5))) {
        LOG.warning("VM " + vm.name() + ": QMP closed but QEMU pid " + qemu.pid() + " still runs");
        return;
      }
      VmState s = now.record().state();
      if (s == VmState.STOPPED || s == VmState.CRASHED || s == VmState.CREATED) {
        return; // not a VM that runs (a re-adopted record said otherwise): nothing to account for
      }
      VmLinks.drop(vm, events, "QEMU exited");
      release(vm);
      if (s == VmState.STOPPING || now.guestShutdown()) {
        settle(vm, VmState.STOPPED, "mark stopped", r -> r.withPid(0));
      } else {
        String why = "QEMU exited unexpectedly; console tail: " + consoleTail(vm);
        settle(vm, VmState.CRASHED, "mark crashed", r -> r.withError(why).withPid(0));
        LOG.warning("VM " + vm.name() + " (" + vm.record().instanceId() + "): crashed");
      }
    }
  }

  /**
   * QEMU is gone and its resources are released: the VM settles in {@code to}, saved first, so that
   * a reader who sees the new state (readers take no lock) also finds it on disk. This path must go
   * on when the state directory fails (QEMU is already gone): a save that fails is logged and kept
   * as the VM's error, and the next change that saves writes the whole record. Caller owns the VM.
   */
  void settle(VmRuntime vm, VmState to, String action, UnaryOperator<VmRecord> also) {
    VmTransitions.check(vm.name(), vm.record().state(), to, action);
    VmRecord next = also.apply(vm.record().withState(to));
    try {
      store.save(next);
    } catch (VmException e) {
      LOG.warning("VM " + vm.name() + ": " + e.getMessage());
      next = next.withError(next.lastError() + (next.lastError().isEmpty() ? "" : "; ") + e.getMessage());
    }
    VmRecord settled = next;
    events.transition(vm, to, action, r -> settled);
  }

  /** QEMU is gone: its virtiofsd processes and swtpm end, its sockets and pidfile go, and its GPUs go back to the host. */
  void release(VmRuntime vm) {
    Virtiofsd.stopAll(vm.files.runDir());
    Swtpm.stop(vm.files.runDir());
    try {
      FileTrees.deleteTree(vm.files.runDir());
    } catch (RuntimeException e) {
      LOG.warning("VM " + vm.name() + ": cannot clean " + vm.files.runDir() + ": " + e.getMessage());
    }
    gpus.giveBack(vm.name());
  }

  /** The daemon is going away: QEMU exits seen from now on are not acted on (VMs keep running). */
  void daemonClosing() {
    closing = true;
  }

  /** Whether the daemon is going away (see {@link #daemonClosing}). */
  boolean closing() {
    return closing;
  }

  private static String consoleTail(VmRuntime vm) {
    try {
      List<String> lines = Files.readAllLines(vm.files.consoleLog());
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    } catch (IOException e) {
      return "(no console log)";
    }
  }
}
