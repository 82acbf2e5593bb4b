package dev.vmlet.common.testing;

import java.time.Duration;

/**
 * Waits, with a deadline, for a condition that no event announces (a file appears, a process is
 * gone, a counter reaches a value). Where a latch, future, listener or event stream exists, a test
 * waits on that instead; this is the one fallback, shared by every module's tests through the
 * common test jar.
 *
 * <p>The pause between probes grows with the time already waited (a tenth of it, from 1 ms up to
 * 1 s): what happens at once is seen at once, and a probe that is costly (an exec in a guest) is
 * not repeated hundreds of times during a long boot. On time-out the test fails with an
 * {@link AssertionError} that names what it waited for and for how long.
 *
 * <p>Probes run on the caller's thread and may throw: an exception ends the wait at once and
 * reaches the test as it is (a probe that expects failures while it waits catches them itself).
 */
public final class Poll {
  private static final long MIN_PAUSE_NANOS = Duration.ofMillis(1).toNanos();
  private static final long MAX_PAUSE_NANOS = Duration.ofSeconds(1).toNanos();

  private Poll() {}

  /** A yes/no question asked again until it says yes. */
  @FunctionalInterface
  public interface Condition {
    boolean holds() throws Exception;
  }

  /** A look that returns what it found, or null while there is nothing yet. */
  @FunctionalInterface
  public interface Probe<T> {
    T look() throws Exception;
  }

  /**
   * Returns once {@code condition} holds.
   *
   * @param what what the test waits for, as the failure message should say it ("the VM to be CRASHED")
   * @throws AssertionError if it does not hold within {@code timeout}
   */
  public static void until(String what, Duration timeout, Condition condition) throws Exception {
    forValue(what, timeout, () -> condition.holds() ? Boolean.TRUE : null);
  }

  /**
   * Returns the first non-null value {@code probe} finds.
   *
   * @param what what the test waits for, as the failure message should say it
   * @throws AssertionError if the probe finds nothing within {@code timeout}
   */
  public static <T> T forValue(String what, Duration timeout, Probe<T> probe) throws Exception {
    long start = System.nanoTime();
    while (true) {
      T found = probe.look();
      if (found != null) {
        return found;
      }
      long waited = System.nanoTime() - start;
      if (waited >= timeout.toNanos()) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for " + what);
      }
      long pause = Math.min(Math.max(waited / 10, MIN_PAUSE_NANOS), MAX_PAUSE_NANOS);
      // The last pause ends at the deadline, so one last probe runs then instead of failing early.
      Thread.sleep(Math.max(1, Math.min(pause, timeout.toNanos() - waited) / 1_000_000));
    }
  }
}
