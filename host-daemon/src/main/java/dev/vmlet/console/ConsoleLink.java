package dev.vmlet.console;

import dev.vmlet.fs.UnixSockets;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * The daemon's end of a VM's serial console (QEMU's socket chardev): everything the guest prints
 * goes to a {@link BoundedLog} and to whoever is attached; what an attached user types goes to the
 * guest. Several users may attach at once, as on a shared terminal.
 */
public final class ConsoleLink implements Closeable {
  private static final Logger LOG = Logger.getLogger(ConsoleLink.class.getName());
  public static final long LOG_LIMIT = 1 << 20;

  private final AFUNIXSocket socket;
  private final OutputStream toGuest;
  private final BoundedLog log;
  private final List<Consumer<byte[]>> attached = new CopyOnWriteArrayList<>();
  private final List<Runnable> onEnd = new CopyOnWriteArrayList<>();
  private volatile boolean ended;
  private volatile long firstOutputAtMs;

  private ConsoleLink(AFUNIXSocket socket, BoundedLog log) throws IOException {
    this.socket = socket;
    this.toGuest = socket.getOutputStream();
    this.log = log;
  }

  public static ConsoleLink connect(String vmName, Path socketPath, Path logFile, Duration timeout) throws IOException {
    AFUNIXSocket s;
    try {
      s = UnixSockets.connect(socketPath, timeout);
    } catch (IOException e) {
      throw new IOException("cannot connect to the console socket " + socketPath + ": " + e.getMessage(), e);
    }
    try {
      ConsoleLink link = new ConsoleLink(s, new BoundedLog(logFile, LOG_LIMIT));
      Thread t = new Thread(() -> link.readLoop(vmName), "console-" + vmName);
      t.setDaemon(true);
      link.reader = t;
      t.start();
      return link;
    } catch (IOException e) {
      s.close();
      throw new IOException("cannot connect to the console socket " + socketPath + ": " + e.getMessage(), e);
    }
  }

  private void readLoop(String vmName) {
    byte[] buf = new byte[8192];
    try (InputStream in = socket.getInputStream(); log) {
      int n;
      while ((n = in.read(buf)) > 0) {
        if (firstOutputAtMs == 0) {
          firstOutputAtMs = System.currentTimeMillis();
        }
        log.append(buf, 0, n);
        byte[] chunk = Arrays.copyOf(buf, n);
        for (Consumer<byte[]> a : attached) {
          a.accept(chunk);
        }
      }
    } catch (IOException e) {
      LOG.fine("VM " + vmName + ": console ended: " + e.getMessage());
    } finally {
      ended = true;
      onEnd.forEach(Runnable::run);
    }
  }

  /** When the guest first wrote to its console since this link connected (0: not yet). */
  public long firstOutputAtMs() {
    return firstOutputAtMs;
  }

  /**
   * Starts sending guest output to {@code out}, on the reader thread (it must not block);
   * {@code ended} runs once when the console goes away (the VM stopped). Close the handle to detach.
   */
  public AutoCloseable attach(Consumer<byte[]> out, Runnable ended) {
    attached.add(out);
    onEnd.add(ended);
    if (this.ended) {
      ended.run();
    }
    return () -> {
      attached.remove(out);
      onEnd.remove(ended);
    };
  }

  /** Types into the guest's console. */
  public void write(byte[] data) throws IOException {
    synchronized (toGuest) {
      toGuest.write(data);
      toGuest.flush();
    }
  }

  /**
   * Closes the socket and waits (up to {@link #CLOSE_WAIT}) for the reader to close the log: once
   * a stop returns, the daemon holds no file of the VM's open (a read-only remount of the state
   * directory would otherwise fail as busy).
   */
  @Override
  public void close() throws IOException {
    socket.close();
    Thread t = reader;
    if (t != null && t != Thread.currentThread()) {
      try {
        t.join(CLOSE_WAIT.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  static final Duration CLOSE_WAIT = Duration.ofSeconds(2);
  private volatile Thread reader;
}
