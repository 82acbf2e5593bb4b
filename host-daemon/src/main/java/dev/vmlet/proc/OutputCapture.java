package dev.vmlet.proc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.concurrent.ExecutionException;

/**
 * Reads one output stream of a process to its end on a pool thread, keeping the first
 * {@code limit} bytes and dropping (but still reading) the rest, so the process never blocks on a
 * full pipe. Optionally hands every line to a listener as it arrives.
 */
final class OutputCapture {
  /** A line longer than this reaches the listener in pieces of this size. */
  static final int MAX_LINE = 8192;

  private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
  private final ByteArrayOutputStream line = new ByteArrayOutputStream();
  private final int limit;
  private final Consumer<String> lines;
  private boolean dropped;
  private boolean unfinished;
  private Future<?> reading;

  private OutputCapture(int limit, Consumer<String> lines) {
    this.limit = limit;
    this.lines = lines;
  }

  static OutputCapture start(ExecutorService pool, InputStream in, int limit, Consumer<String> lines) {
    OutputCapture c = new OutputCapture(limit, lines);
    c.reading = pool.submit(() -> c.drain(in));
    return c;
  }

  private void drain(InputStream in) {
    byte[] buf = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buf)) > 0) {
        keep(buf, n);
        if (lines != null) {
          split(buf, n);
        }
      }
    } catch (IOException e) {
      // The stream was closed under us (the process was killed): what was read is what there is.
    }
    if (lines != null && line.size() > 0) {
      emit();
    }
  }

  private synchronized void keep(byte[] buf, int n) {
    int room = Math.max(0, limit - kept.size());
    kept.write(buf, 0, Math.min(room, n));
    dropped |= n > room;
  }

  private void split(byte[] buf, int n) {
    for (int i = 0; i < n; i++) {
      if (buf[i] == '\n') {
        emit();
      } else {
        line.write(buf[i]);
        if (line.size() >= MAX_LINE) {
          emit();
        }
      }
    }
  }

  private void emit() {
    String s = line.toString(StandardCharsets.UTF_8);
    line.reset();
    try {
      lines.accept(s.endsWith("\r") ? s.substring(0, s.length() - 1) : s);
    } catch (RuntimeException e) {
      // A failing listener must not stop the draining, or the process blocks on a full pipe.
    }
  }

  /** Waits until the stream ends or the deadline ({@link System#nanoTime()}) passes, whichever is first. */
  void await(long deadline) throws InterruptedException {
    try {
      reading.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      synchronized (this) {
        unfinished = true;
      }
    } catch (ExecutionException e) {
      throw new IllegalStateException("reading a process's output failed", e.getCause());
    }
  }

  /** The bytes kept so far, as UTF-8. */
  synchronized String text() {
    return kept.toString(StandardCharsets.UTF_8);
  }

  /** Some output was dropped at the limit, or the stream had not ended when it was waited for. */
  synchronized boolean cut() {
    return dropped || unfinished;
  }
}
