package dev.vmlet.common.flow;

import java.io.IOException;

/**
 * The sending half of one stream's credit: how many data bytes may still go out before the
 * receiver grants more. {@link #acquire} blocks while there is not enough, {@link #tryAcquire}
 * says so instead; {@link #close} wakes every waiter with an error (the stream or the link ended).
 */
public final class SendWindow {
  /** Credit each direction of a new stream starts with. */
  public static final int INITIAL = 256 * 1024;

  private long available;
  private String closedReason;

  public SendWindow() {
    this(INITIAL);
  }

  public SendWindow(long initial) {
    this.available = initial;
  }

  /**
   * Takes {@code n} bytes of credit, waiting until the receiver has granted enough.
   *
   * @throws IOException if the window is closed meanwhile
   */
  public synchronized void acquire(int n) throws IOException {
    while (closedReason == null && available < n) {
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for the receiver to take data");
      }
    }
    if (closedReason != null) {
      throw new IOException(closedReason);
    }
    available -= n;
  }

  /**
   * Takes {@code n} bytes of credit if the receiver has granted that much, without waiting: for a
   * sender that must not hold its thread (a gRPC call) and tries again when credit arrives.
   *
   * @return false when there is not enough credit now (nothing was taken)
   * @throws IOException if the window is closed
   */
  public synchronized boolean tryAcquire(int n) throws IOException {
    if (closedReason != null) {
      throw new IOException(closedReason);
    }
    if (available < n) {
      return false;
    }
    available -= n;
    return true;
  }

  /** The receiver consumed {@code n} more bytes. */
  public synchronized void grant(long n) {
    available += n;
    notifyAll();
  }

  public synchronized long available() {
    return available;
  }

  /** Fails every current and later {@link #acquire} with {@code reason}. */
  public synchronized void close(String reason) {
    if (closedReason == null) {
      closedReason = reason;
    }
    notifyAll();
  }
}
