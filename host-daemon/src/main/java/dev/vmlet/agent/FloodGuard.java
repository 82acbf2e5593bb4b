package dev.vmlet.agent;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Counts the frames an agent sent that answered nothing. A few are normal (an answer that crossed
 * a cancel); more than {@link #limit} within {@link #window} is a guest flooding the daemon, and
 * the link is cut. Used on the link's reader thread only, so it is not synchronised.
 */
final class FloodGuard {
  private final int limit;
  private final Duration window;
  private final LongSupplier nanoTime;
  private long windowStart;
  private int inWindow;
  private volatile long dropped;
  private boolean tripped;

  /** @param nanoTime the clock ({@code System::nanoTime}; a fake in tests) */
  FloodGuard(int limit, Duration window, LongSupplier nanoTime) {
    this.limit = limit;
    this.window = window;
    this.nanoTime = nanoTime;
    this.windowStart = nanoTime.getAsLong();
  }

  /**
   * Counts one dropped frame.
   *
   * @return true exactly once: the first time the limit is passed within one window
   */
  boolean dropped() {
    dropped++;
    long now = nanoTime.getAsLong();
    if (now - windowStart > window.toNanos()) {
      windowStart = now;
      inWindow = 0;
    }
    if (++inWindow > limit && !tripped) {
      tripped = true;
      return true;
    }
    return false;
  }

  /** Frames dropped since the link was made. */
  long total() {
    return dropped;
  }

  /** Why the link was cut, for the requests it fails. */
  String reason() {
    return "the agent sent more than " + limit + " frames that answer nothing within " + window.toSeconds()
        + " s; the link was cut";
  }
}
