package dev.vmlet.vm;

import dev.vmlet.qemu.VmFiles;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * One VM as the manager holds it: its files and its current {@link VmSnapshot}.
 *
 * <p><b>One owner per VM.</b> The VM's mutations (start, stop, delete, pause, resume, snapshots,
 * disk growth, re-adoption, the QEMU-exit handler) hold this object's monitor, so they happen one at
 * a time and each sees the effects of the last. Only the owner changes the record, the process and
 * the links ({@link #publish}, which asserts it). The links' own threads report what they learn
 * (an agent's Hello or loss, QEMU's SHUTDOWN event) without the monitor ({@link #report}): a link
 * thread that waited behind a stop would stall the very answers the stop waits for.
 *
 * <p><b>Readers never wait.</b> {@code get}, {@code list}, exec, agent look-ups and the console read
 * {@link #now()}: one volatile reference to an immutable snapshot, replaced whole by compare-and-set,
 * so owner and link threads never overwrite each other's change and a reader sees one moment, never
 * a mix.
 *
 * <p>Why a monitor and not a single-threaded executor per VM: every caller already runs on a thread
 * that may block (gRPC's executor, the CLI's daemon thread, a test), so running the change on that
 * thread keeps its exception, stack and interruption where the caller is, costs no thread per VM,
 * and lets delete run the stop it needs without queueing behind itself. What an executor would give
 * beyond that — callers that need not wait — is given to readers here by the snapshot; writers of one
 * VM wait for each other either way, bounded by the bounds of the step ahead (QMP 5 s, the stop
 * ladder's steps, QEMU's 30 s to start).
 */
final class VmRuntime {
  final VmFiles files;
  private final String name;
  private final AtomicReference<VmSnapshot> now;
  /** Woken at every change, for {@link #await}; held only to wait or to wake, never across work. */
  private final Object changed = new Object();

  VmRuntime(VmRecord record, VmFiles files) {
    this.files = files;
    this.name = record.config().name();
    this.now = new AtomicReference<>(VmSnapshot.of(record));
  }

  String name() {
    return name;
  }

  /** The VM as it is now; never waits. */
  VmSnapshot now() {
    return now.get();
  }

  /** The record as it is now; stable for the owner, a moment's view for anyone else. */
  VmRecord record() {
    return now.get().record();
  }

  /** The owner's change: the caller holds this VM's monitor. */
  VmSnapshot publish(UnaryOperator<VmSnapshot> change) {
    assert Thread.holdsLock(this) : "VM " + name + " changed without its owner";
    return apply(change);
  }

  /**
   * A fact a link's thread learnt (the agent, QEMU's SHUTDOWN), published without the monitor.
   * {@code change} must be a pure function of the snapshot: it may run more than once.
   */
  VmSnapshot report(UnaryOperator<VmSnapshot> change) {
    return apply(change);
  }

  /**
   * Waits until {@code done} holds for the VM as it is, at most until {@code deadlineNanos} (of
   * {@link System#nanoTime()}); returns the VM as it was last seen. Takes no part in the owner.
   */
  VmSnapshot await(Predicate<VmSnapshot> done, long deadlineNanos) throws InterruptedException {
    synchronized (changed) {
      while (true) {
        VmSnapshot s = now.get();
        long left = deadlineNanos - System.nanoTime();
        if (done.test(s) || left <= 0) {
          return s;
        }
        changed.wait(Math.max(1, left / 1_000_000));
      }
    }
  }

  private VmSnapshot apply(UnaryOperator<VmSnapshot> change) {
    VmSnapshot next = now.updateAndGet(change);
    synchronized (changed) {
      changed.notifyAll();
    }
    return next;
  }
}
