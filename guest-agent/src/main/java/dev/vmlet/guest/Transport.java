package dev.vmlet.guest;

import dev.vmlet.common.frame.FrameWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * How the agent reaches the host: the virtio-serial port, or a unix socket for tests and
 * development. A connection's input returns end-of-stream when the host is gone; the agent then
 * asks for a new connection.
 */
interface Transport {
  Connection open() throws IOException;

  /** One open link to the host. Reading and writing may happen on different threads. */
  interface Connection extends Closeable {
    InputStream in();

    OutputStream out();

    /** Where frames may go from native memory instead of through {@link #out}; null when only {@link #out}. */
    default FrameWriter.BufferOutput frameOutput() {
      return null;
    }
  }

  /** A connection made of two streams and what to close, and where frames may go from native memory (or null). */
  record StreamConnection(InputStream in, OutputStream out, Closeable resource, FrameWriter.BufferOutput frameOutput) implements Connection {
    StreamConnection(InputStream in, OutputStream out, Closeable resource) {
      this(in, out, resource, null);
    }

    @Override
    public void close() throws IOException {
      resource.close();
    }
  }

  /** An input stream defined by its bulk read; the single-byte read goes through it. */
  abstract class BulkInputStream extends InputStream {
    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public abstract int read(byte[] b, int off, int len) throws IOException;
  }
}
