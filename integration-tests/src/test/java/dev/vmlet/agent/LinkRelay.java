package dev.vmlet.agent;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * Stands in for QEMU's virtio-serial chardev in protocol tests: the agent connects to one unix
 * socket, the daemon's link to another, and bytes are copied both ways. {@link #cut} drops both
 * connections, as a QEMU or guest going away would.
 */
final class LinkRelay implements AutoCloseable {
  final Path agentSocket;
  final Path hostSocket;
  private final ServerSocketChannel agentServer;
  private final ServerSocketChannel hostServer;
  private volatile SocketChannel agent;
  private volatile SocketChannel host;

  LinkRelay(Path dir) throws IOException {
    agentSocket = dir.resolve("agent.sock");
    hostSocket = dir.resolve("host.sock");
    agentServer = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(agentSocket));
    hostServer = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(hostSocket));
    Thread t = new Thread(this::acceptLoop, "relay");
    t.setDaemon(true);
    t.start();
  }

  private void acceptLoop() {
    try {
      while (true) {
        SocketChannel a = agentServer.accept();
        SocketChannel h = hostServer.accept();
        agent = a;
        host = h;
        pump(a, h);
        pump(h, a);
      }
    } catch (IOException e) {
      // closed
    }
  }

  // Channel reads and writes directly: the stream adapters of java.nio.channels.Channels share one
  // lock per channel, so a blocked read would stall the other direction's writes.
  private static void pump(SocketChannel from, SocketChannel to) {
    Thread t = new Thread(() -> {
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(64 * 1024);
      try {
        while (from.read(buf) >= 0) {
          buf.flip();
          while (buf.hasRemaining()) {
            to.write(buf);
          }
          buf.clear();
        }
      } catch (IOException e) {
        // one side went away
      } finally {
        try {
          from.close();
          to.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }, "relay-pump");
    t.setDaemon(true);
    t.start();
  }

  /** Drops the current connections on both sides. */
  void cut() throws IOException {
    if (agent != null) {
      agent.close();
    }
    if (host != null) {
      host.close();
    }
  }

  @Override
  public void close() throws IOException {
    cut();
    agentServer.close();
    hostServer.close();
  }
}
