package dev.vmlet.it;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.WatchVmsRequest;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One running VM's events through WatchVms, for tests that wait for something the daemon announces
 * (the agent back after a reboot, a crash) instead of polling GetVm.
 *
 * <p>{@link #open} returns once the daemon says WATCHING, so an event the test causes afterwards
 * cannot be missed.
 */
final class VmWatch implements AutoCloseable {
  private final BlockingQueue<VmEvent> events = new LinkedBlockingQueue<>();
  private final Context.CancellableContext call = Context.current().withCancellation();

  private VmWatch() {}

  /** Watches the VM {@code name}; returns once the daemon says every change from now on is sent. */
  static VmWatch open(DaemonClient client, String name) throws Exception {
    VmWatch w = new VmWatch();
    Thread reader = new Thread(() -> w.call.run(() -> {
      try {
        client.vms().watchVms(WatchVmsRequest.newBuilder().setName(name).build()).forEachRemaining(w.events::add);
      } catch (StatusRuntimeException e) {
        // cancelled by close(), or the daemon went away: a waiting test then times out naming its event
      }
    }), "watch-" + name);
    reader.setDaemon(true);
    reader.start();
    try {
      // WatchVms first sends the VM as it is, then WATCHING: every change from there on is sent.
      w.await(VmEvent.Kind.WATCHING, Duration.ofSeconds(30));
    } catch (Exception | AssertionError e) {
      w.close();
      throw e;
    }
    w.events.clear();
    return w;
  }

  /** Forgets the events so far: the next wait sees only what happens from now on. */
  void clear() {
    events.clear();
  }

  /** The next event of this kind, skipping others; fails if none comes within {@code timeout}. */
  VmEvent await(VmEvent.Kind kind, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (long left = timeout.toNanos(); left > 0; left = deadline - System.nanoTime()) {
      VmEvent e = events.poll(left, TimeUnit.NANOSECONDS);
      if (e != null && e.getKind() == kind) {
        return e;
      }
    }
    throw new AssertionError("no " + kind + " event within " + timeout.toSeconds() + " s");
  }

  @Override
  public void close() {
    call.cancel(null);
  }
}
