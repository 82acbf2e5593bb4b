package dev.vmlet.vm;

import java.time.Clock;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.logging.Logger;

/** The lifecycle events of this host's VMs and the state changes that cause them. */
final class VmEvents {
  private static final Logger LOG = Logger.getLogger(VmEvents.class.getName());
  private final Clock clock;
  private final List<Consumer<LifecycleEvent>> watchers = new CopyOnWriteArrayList<>();

  VmEvents(Clock clock) {
    this.clock = clock;
  }

  /** See {@link VmManager#watch}. */
  AutoCloseable watch(Consumer<LifecycleEvent> watcher) {
    watchers.add(watcher);
    return () -> watchers.remove(watcher);
  }

  /** Moves the VM to {@code to} if {@link VmTransitions} allows it, and tells the watchers. Caller holds the VM's monitor. */
  void transition(VmRuntime vm, VmState to, String action) {
    transition(vm, to, action, r -> r);
  }

  /**
   * As {@link #transition(VmRuntime, VmState, String)}, with {@code also} applied to the record in
   * the same write: readers take no lock, so they see the new state with its error and pid, never
   * one without the other.
   */
  void transition(VmRuntime vm, VmState to, String action, UnaryOperator<VmRecord> also) {
    VmTransitions.check(vm.name(), vm.record().state(), to, action);
    vm.publish(s -> s.withRecord(also.apply(s.record().withState(to))));
    emit(vm, to == VmState.CRASHED ? LifecycleEvent.Kind.CRASHED : LifecycleEvent.Kind.STATE_CHANGED, action);
  }

  void emit(VmRuntime vm, LifecycleEvent.Kind kind, String message) {
    LifecycleEvent e = new LifecycleEvent(clock.millis(), vm.name(), kind, vm.record().state(), message);
    for (Consumer<LifecycleEvent> w : watchers) {
      try {
        w.accept(e);
      } catch (RuntimeException ex) {
        LOG.warning("a VM event watcher failed: " + ex);
      }
    }
  }
}
