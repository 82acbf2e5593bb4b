package dev.vmlet.guest;

import java.util.logging.Logger;

/**
 * Where one request's time goes inside the agent, hop by hop, for finding the cost of a round trip
 * under TCG (docs/benchmarks.md, "the exec round trip, hop by hop"). Off unless the kernel command
 * line has {@code vmlet_trace=hops} (or the agent runs with {@code -Dvmlet.agent.trace=hops}); then
 * each traced request logs one line when its last frame has gone out: {@code hops stream N KIND:
 * handler 120, spawned 2400, exit-sent 5300} (microseconds since the read that brought the
 * request's last bytes returned). Off, a mark costs one comparison: the request path pays nothing
 * for the trace that is not taken.
 */
final class HopTrace {
  private static final Logger LOG = Logger.getLogger(HopTrace.class.getName());
  /** The one instance handed out while tracing is off; its marks do nothing. */
  static final HopTrace OFF = new HopTrace(0, "", 0);
  private static volatile boolean enabled = "hops".equals(System.getProperty("vmlet.agent.trace"));
  private static final int MAX_MARKS = 12;

  private final int stream;
  private final String kind;
  private final long readNanos;
  private final String[] names = new String[MAX_MARKS];
  private final long[] nanos = new long[MAX_MARKS];
  private int count;
  /** Figures that are no hop (the output path's reads and frames), appended to the line. */
  private final StringBuilder notes = new StringBuilder();

  private HopTrace(int stream, String kind, long readNanos) {
    this.stream = stream;
    this.kind = kind;
    this.readNanos = readNanos;
  }

  /** Turns the trace on or off for requests that begin from now on. */
  static void enable(boolean on) {
    enabled = on;
  }

  static boolean enabled() {
    return enabled;
  }

  /**
   * A trace of the request on {@code stream}, whose bytes were read at {@code readNanos}
   * ({@link System#nanoTime}); {@link #OFF} while tracing is off.
   */
  static HopTrace begin(int stream, String kind, long readNanos) {
    return enabled ? new HopTrace(stream, kind, readNanos) : OFF;
  }

  /** Notes that the request reached {@code hop} now (the first {@value #MAX_MARKS} hops are kept). */
  void mark(String hop) {
    if (this == OFF) {
      return;
    }
    synchronized (this) {
      if (count < MAX_MARKS) {
        names[count] = hop;
        nanos[count++] = System.nanoTime();
      }
    }
  }

  /** Notes a figure of the request that is no hop, as {@code name value} after the hops. */
  void note(String name, long value) {
    if (this == OFF) {
      return;
    }
    synchronized (this) {
      notes.append("; ").append(name).append(' ').append(value);
    }
  }

  /** Whether marks and notes are kept (callers skip gathering figures for {@link #OFF}). */
  boolean on() {
    return this != OFF;
  }

  /** The line {@link #end} logs: each hop with its microseconds since the read. */
  synchronized String line() {
    StringBuilder b = new StringBuilder("hops stream ").append(stream).append(' ').append(kind).append(':');
    for (int i = 0; i < count; i++) {
      b.append(i == 0 ? " " : ", ").append(names[i]).append(' ').append((nanos[i] - readNanos) / 1000);
    }
    return b.append(notes).toString();
  }

  /** Logs the line, after the request's last frame went out (so the logging is not on its path). */
  void end() {
    if (this != OFF) {
      LOG.info(line());
    }
  }
}
