package dev.vmlet.api;

import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.WatchVmsRequest;
import dev.vmlet.vm.LifecycleEvent;
import dev.vmlet.vm.VmManager;
import dev.vmlet.vm.VmView;
import io.grpc.stub.StreamObserver;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import dev.vmlet.proto.v1.VmState;

/**
 * WatchVms: the current state of what is watched (CURRENT per VM, then WATCHING), then every
 * change. The watcher is registered before the state is read, and what it hears meanwhile is
 * held and sent after WATCHING, so no change falls between the two.
 */
final class VmWatches {
  private VmWatches() {}

  static void watch(VmManager manager, Clock clock, WatchVmsRequest req, StreamObserver<VmEvent> out) {
    GuardedStream<VmEvent> stream = new GuardedStream<>(out);
    String only = req.getName();
    List<VmView> current;
    Watcher watcher = new Watcher(stream, only);
    AutoCloseable handle = null;
    try {
      if (!only.isEmpty()) {
        manager.get(only); // NOT_FOUND now, rather than a stream that waits for a VM that may never exist
      }
      handle = manager.watch(watcher);
      // Read after registering: a VM deleted in between is NOT_FOUND here, or its DELETED is held.
      current = only.isEmpty() ? manager.list() : List.of(manager.get(only));
    } catch (RuntimeException e) {
      stream.fail(VmProtos.status(e));
      watcher.end();
      if (handle != null) {
        close(handle);
      }
      return;
    }
    AutoCloseable registered = handle;
    stream.call().setOnCancelHandler(() -> close(registered));
    if (stream.call().isCancelled()) {
      close(registered); // cancelled before the handler was set: it will not run
      return;
    }
    List<VmEvent> first = new ArrayList<>();
    for (VmView v : current) {
      first.add(VmEvent.newBuilder().setAtUnixMs(clock.millis()).setName(v.record().config().name())
          .setKind(VmEvent.Kind.CURRENT).setState(VmState.valueOf(v.record().state().name()))
          .setAgentReady(v.hello() != null).build());
    }
    first.add(VmEvent.newBuilder().setAtUnixMs(clock.millis()).setKind(VmEvent.Kind.WATCHING).build());
    watcher.live(first, handle);
  }

  private static void close(AutoCloseable handle) {
    try {
      handle.close();
    } catch (Exception ignored) {
      // removing a watcher cannot fail
    }
  }

  /** Holds events until the current state is sent; ends a one-VM watch at its DELETED. */
  private static final class Watcher implements Consumer<LifecycleEvent> {
    private final GuardedStream<VmEvent> stream;
    private final String only;
    private List<VmEvent> held = new ArrayList<>();
    private AutoCloseable handle;
    private boolean ended;

    Watcher(GuardedStream<VmEvent> stream, String only) {
      this.stream = stream;
      this.only = only;
    }

    @Override
    public synchronized void accept(LifecycleEvent e) {
      if (ended || !(only.isEmpty() || only.equals(e.name()))) {
        return;
      }
      VmEvent event = VmProtos.event(e);
      if (held != null) {
        held.add(event); // bounded by the changes of the few milliseconds the state takes to read
        return;
      }
      send(event);
    }

    /** Sends {@code first} and what was held, then passes events on; {@code handle} unregisters this. */
    synchronized void live(List<VmEvent> first, AutoCloseable handle) {
      this.handle = handle;
      first.forEach(stream::send);
      List<VmEvent> h = held;
      held = null;
      h.forEach(this::send);
      if (ended) {
        close(handle);
      }
    }

    /** The stream failed before it began: hold and send nothing more. */
    synchronized void end() {
      ended = true;
      held = null;
    }

    private void send(VmEvent event) {
      if (ended) {
        return;
      }
      stream.send(event);
      if (!only.isEmpty() && event.getKind() == VmEvent.Kind.DELETED) {
        ended = true;
        stream.complete();
        if (handle != null) {
          close(handle); // a completed stream gets no cancel, so nothing else would unregister this
        }
      }
    }
  }
}
