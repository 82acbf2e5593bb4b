package dev.vmlet.guest;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * The virtio-serial port ({@code /dev/virtio-ports/dev.vmlet.agent.0}), opened once as a file.
 * A port can be open only once, so input and output share one descriptor; they use separate
 * stream objects so that a blocked read never holds up a write.
 *
 * <p>In a Linux guest a read returns 0 bytes at once while no host end is connected, and a write
 * blocks until one is. So end-of-stream here means "the host is not (or no longer) there": the
 * input then reports it and keeps polling instead of ending, because a reopened port behaves the
 * same and a write blocked on the old descriptor would be stranded.
 */
final class PortTransport implements Transport {
  private final Path port;
  private final Runnable onHostGone;

  PortTransport(Path port, Runnable onHostGone) {
    this.port = port;
    this.onHostGone = onHostGone;
  }

  @Override
  public Connection open() throws IOException {
    RandomAccessFile file = new RandomAccessFile(port.toFile(), "rw");
    FileInputStream raw = new FileInputStream(file.getFD());
    // A stream, not a channel: an interrupted writer would close a channel, and the port with it.
    OutputStream out = new FileOutputStream(file.getFD());
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
            Thread.sleep(200);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the host", e);
          }
        }
      }
    };
    return new StreamConnection(in, out, file);
  }
}
