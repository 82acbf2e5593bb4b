package dev.vmlet.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A TCP proxy on 127.0.0.1 in front of a server that cuts, once, the first connection on which the
 * server has sent more than {@code cutAfter} bytes: it closes both sockets mid-response, the way a
 * dropped network link ends a download. It keeps the request lines the client sent (with any
 * {@code Range} header), so a test can see how the client came back.
 */
final class CuttingProxy implements AutoCloseable {
  private final ServerSocket server;
  private final int target;
  private final long cutAfter;
  private final AtomicBoolean cut = new AtomicBoolean();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  /** Each request's first line and its Range header, if any, lower-cased. */
  final List<String> requests = new CopyOnWriteArrayList<>();

  CuttingProxy(int target, long cutAfter) throws IOException {
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.target = target;
    this.cutAfter = cutAfter;
    Thread t = new Thread(this::accept, "cutting-proxy");
    t.setDaemon(true);
    t.start();
  }

  String address() {
    return "127.0.0.1:" + server.getLocalPort();
  }

  boolean didCut() {
    return cut.get();
  }

  private void accept() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
        sockets.add(client);
        sockets.add(upstream);
        pump(client, upstream, false);
        pump(upstream, client, true);
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void pump(Socket from, Socket to, boolean response) {
    Thread t = new Thread(() -> {
      long sent = 0;
      byte[] buf = new byte[1 << 15];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        for (int n; (n = in.read(buf)) > 0; ) {
          if (!response) {
            record(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
          }
          if (response && sent + n > cutAfter && cut.compareAndSet(false, true)) {
            out.write(buf, 0, (int) (cutAfter - sent));
            out.flush();
            from.close();
            to.close();
            return;
          }
          out.write(buf, 0, n);
          sent += n;
        }
      } catch (IOException e) {
        // one side closed; the other pump ends too
      } finally {
        closeQuietly(from);
        closeQuietly(to);
      }
    }, "cutting-proxy-pump");
    t.setDaemon(true);
    t.start();
  }

  private void record(String chunk) {
    String[] lines = chunk.split("\r\n");
    if (lines.length == 0 || !lines[0].matches("(GET|HEAD|PUT|POST|PATCH|DELETE) .*")) {
      return;
    }
    String range = "";
    for (String l : lines) {
      if (l.toLowerCase(Locale.ROOT).startsWith("range:")) {
        range = " " + l.toLowerCase(Locale.ROOT);
      }
    }
    requests.add(lines[0] + range);
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // already closed
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : sockets) {
      closeQuietly(s);
    }
  }
}
