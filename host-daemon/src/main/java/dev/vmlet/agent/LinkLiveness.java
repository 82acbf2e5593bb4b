package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Heartbeat;
import java.io.IOException;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The host's heartbeats on one link, and the check that the agent still answers: every interval
 * it sends a Heartbeat while a session is on, and ends the session once the agent has been
 * silent for three intervals (a hung guest, a stopped agent): no frame and no byte of one. While the guest is paused silence
 * is not counted. Runs on its own thread until the link closes.
 */
final class LinkLiveness implements Runnable {
  private final String vmName;
  private final Duration interval;
  private final LinkConnection link;
  private final BooleanSupplier inSession;
  private final Consumer<String> silent;
  private volatile long lastHeardNanos = System.nanoTime();
  private volatile boolean suspended;

  /**
   * @param inSession whether a session is on (no heartbeats, and no silence counted, without one)
   * @param silent ends the session, with the reason, when the agent stopped answering
   */
  LinkLiveness(String vmName, Duration interval, LinkConnection link, BooleanSupplier inSession, Consumer<String> silent) {
    this.vmName = vmName;
    this.interval = interval;
    this.link = link;
    this.inSession = inSession;
    this.silent = silent;
  }

  /** Starts the heartbeat thread; it ends with the link. */
  void start() {
    Thread t = new Thread(this, "agent-heartbeat-" + vmName);
    t.setDaemon(true);
    t.start();
  }

  /** A frame came from the agent. */
  void heard() {
    lastHeardNanos = System.nanoTime();
  }

  /** While suspended (the guest is paused) silence is not counted; either way the count restarts. */
  void suspend(boolean suspend) {
    suspended = suspend;
    lastHeardNanos = System.nanoTime();
  }

  @Override
  public void run() {
    long sequence = 0;
    while (!link.closed()) {
      try {
        Thread.sleep(interval.toMillis());
      } catch (InterruptedException e) {
        return;
      }
      if (!inSession.getAsBoolean() || link.closed()) {
        continue;
      }
      // Bytes of a frame still on its way count: on a slow port a 32 KiB frame can take longer than the limit.
      long heard = lastHeardNanos;
      long arrived = link.lastArrivalNanos();
      long silentMs = (System.nanoTime() - (arrived - heard > 0 ? arrived : heard)) / 1_000_000;
      if (!suspended && silentMs > 3 * interval.toMillis()) {
        silent.accept("the agent of VM " + vmName + " has not answered for " + silentMs / 1000
            + " s (agent stopped, or guest hung)");
        continue;
      }
      try {
        link.send(Frame.newBuilder().setHeartbeat(Heartbeat.newBuilder().setSequence(++sequence)).build());
      } catch (IOException e) {
        // the reader sees the link end
      }
    }
  }
}
