package dev.vmlet.fs;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** Connecting to a unix socket that a process we just started is still setting up. */
public final class UnixSockets {
  private static final long RETRY_MILLIS = 10;

  private UnixSockets() {}

  /**
   * Connects to {@code path}, trying again while the connection is refused, for at most {@code
   * timeout}. A listener creates its socket file with bind() and accepts only after listen(): in
   * between, which under load lasts long enough to be hit, a connect is refused although the file
   * is there (QEMU's QMP, console and agent sockets). A missing file fails at once, as before.
   *
   * @throws IOException the last refusal once {@code timeout} has passed, or any other failure
   */
  /** ECONNREFUSED: junixsocket reports it as a plain SocketException with the errno's text. */
  static boolean refused(SocketException e) {
    return e instanceof ConnectException || (e.getMessage() != null && e.getMessage().contains("Connection refused"));
  }

  public static AFUNIXSocket connect(Path path, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      AFUNIXSocket s = AFUNIXSocket.newInstance();
      try {
        long leftMillis = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
        s.connect(AFUNIXSocketAddress.of(path.toFile()), (int) Math.min(Integer.MAX_VALUE, leftMillis));
        return s;
      } catch (SocketException e) {
        s.close();
        if (!refused(e) || System.nanoTime() + RETRY_MILLIS * 1_000_000 > deadline) {
          throw e;
        }
      } catch (IOException | RuntimeException e) {
        s.close();
        throw e;
      }
      try {
        Thread.sleep(RETRY_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while connecting to " + path, e);
      }
    }
  }
}
