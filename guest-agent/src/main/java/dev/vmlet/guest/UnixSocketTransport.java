package dev.vmlet.guest;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * A unix socket standing in for the port, for tests and development without a VM. The agent is
 * the client, as it is of QEMU's chardev in a VM.
 */
final class UnixSocketTransport implements Transport {
  private final Path socket;

  UnixSocketTransport(Path socket) {
    this.socket = socket;
  }

  @Override
  public Connection open() throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException e) {
      ch.close();
      throw e;
    }
    // Not Channels.newInputStream/newOutputStream: those serialise reads and writes on one lock.
    InputStream in = new BulkInputStream() {
      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        return ch.read(ByteBuffer.wrap(b, off, len));
      }
    };
    OutputStream out = new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(b, off, len);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
      }
    };
    return new StreamConnection(in, out, ch);
  }
}
