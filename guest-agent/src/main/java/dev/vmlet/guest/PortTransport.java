package dev.vmlet.guest;

import dev.vmlet.common.frame.FrameWriter;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The virtio-serial port ({@code /dev/virtio-ports/dev.vmlet.agent.0}), opened once as a file.
 * A port can be open only once, so input and output share one descriptor; they use separate
 * stream objects so that a blocked read never holds up a write.
 *
 * <p>In a Linux guest a read returns 0 bytes at once while no host end is connected, and a write
 * blocks until one is. So end-of-stream here means "the host is not (or no longer) there": the
 * input then reports it and keeps polling instead of ending, because a reopened port behaves the
 * same and a write blocked on the old descriptor would be stranded.
 *
 * <p>A write to the port blocks until a host end is connected, so a write that completes means a
 * host is there now: it wakes a reader that waits for the host at once, instead of at the end of its
 * {@value #HOST_POLL_MS} ms wait. A resumed clone's agent writes its Hello as soon as the daemon's
 * link connects, and reads the Welcome the moment it can come.
 */
final class PortTransport implements Transport {
  private final Path port;
  private final Runnable onHostGone;
  /** How long a reader waits for a host end before it reads again, unless a write wakes it. */
  static final long HOST_POLL_MS = 200;
  private final long hostPollMs;

  PortTransport(Path port, Runnable onHostGone) {
    this(port, onHostGone, HOST_POLL_MS);
  }

  /** With another wait for the host (tests: a long one shows that a write ends it). */
  PortTransport(Path port, Runnable onHostGone, long hostPollMs) {
    this.port = port;
    this.onHostGone = onHostGone;
    this.hostPollMs = hostPollMs;
  }

  @Override
  public Connection open() throws IOException {
    RandomAccessFile file = new RandomAccessFile(port.toFile(), "rw");
    FileInputStream raw = new FileInputStream(file.getFD());
    // A stream, not a channel: an interrupted writer would close a channel, and the port with it.
    long[] writes = new long[1]; // guarded by itself: writes completed, so a reader misses no wake-up
    Runnable wrote = () -> {
      synchronized (writes) {
        writes[0]++;
        writes.notifyAll();
      }
    };
    OutputStream out = new FileOutputStream(file.getFD()) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        super.write(b, off, len);
        wrote.run();
      }

      @Override
      public void write(byte[] b) throws IOException {
        write(b, 0, b.length);
      }

      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }
    };
    InputStream in = new BulkInputStream() {
      private boolean gone;

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0; // as InputStream requires; a 0 from the port below means something else
        }
        while (true) {
          // A read from the port returns at most one of the guest's 4 KiB receive buffers; asking
          // for no more than 8 KiB keeps FileInputStream on its stack buffer instead of a malloc
          // of `len` bytes per read.
          long writesBefore;
          synchronized (writes) {
            writesBefore = writes[0];
          }
          int n = raw.read(b, off, Math.min(len, 8192));
          if (n > 0) {
            gone = false;
            return n;
          }
          if (!gone) {
            gone = true;
            onHostGone.run();
          }
          try {
            synchronized (writes) {
              if (writes[0] == writesBefore) {
                writes.wait(hostPollMs); // a spurious wake-up only means one more read
              }
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the host", e);
          }
        }
      }
    };
    Optional<PortWriter> direct = PortWriter.of(port);
    if (direct.isEmpty()) {
      return new StreamConnection(in, out, file);
    }
    PortWriter w = direct.get();
    FrameWriter.BufferOutput frames = frame -> {
      w.write(frame);
      wrote.run();
    };
    return new StreamConnection(in, out, () -> {
      try (file) {
        w.close();
      }
    }, frames);
  }
}
