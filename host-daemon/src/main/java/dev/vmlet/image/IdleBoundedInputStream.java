package dev.vmlet.image;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A response body that may not go silent: when no byte arrives for {@code idle}, the body is
 * closed (which ends the read that waits on it, and the connection) and every read from then on
 * throws {@link Stalled}. The HTTP client's own timeout ends at the response's headers; a registry
 * that sends headers and then stops would otherwise hold a pull for ever.
 */
final class IdleBoundedInputStream extends FilterInputStream {
  /** The body sent nothing for the idle bound. */
  static final class Stalled extends IOException {
    Stalled(Duration idle) {
      super("nothing arrived for " + (idle.toMillis() % 1000 == 0 ? idle.toSeconds() + " s" : idle.toMillis() + " ms"));
    }
  }

  private static final ScheduledExecutorService WATCH = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "registry-body-watch");
    t.setDaemon(true);
    return t;
  });

  private final Duration idle;
  private final ScheduledFuture<?> watch;
  private volatile long lastNanos = System.nanoTime();
  private volatile boolean stalled;

  IdleBoundedInputStream(InputStream in, Duration idle) {
    super(in);
    this.idle = idle;
    long period = Math.max(20, idle.toMillis() / 4);
    this.watch = WATCH.scheduleWithFixedDelay(this::check, period, period, TimeUnit.MILLISECONDS);
  }

  private void check() {
    if (System.nanoTime() - lastNanos > idle.toNanos()) {
      stalled = true;
      watch.cancel(false);
      try {
        in.close();
      } catch (IOException e) {
        // closing a body whose connection is already gone
      }
    }
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n;
    try {
      n = in.read(b, off, len);
    } catch (IOException e) {
      throw stalled ? new Stalled(idle) : e;
    }
    if (stalled) {
      throw new Stalled(idle); // what a closed body returns (-1, or the bytes it held) is not the end of the blob
    }
    lastNanos = System.nanoTime();
    return n;
  }

  @Override
  public void close() throws IOException {
    watch.cancel(false);
    in.close();
  }
}
