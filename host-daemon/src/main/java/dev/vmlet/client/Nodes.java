package dev.vmlet.client;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.Collections;

/**
 * The other nodes this daemon can reach for {@code @node/vm} targets, from a file of lines
 * ({@code #} starts a comment):
 * <pre>
 * NAME unix:/path/to/vmlet.sock
 * NAME tcp://HOST:PORT cert=CLIENT.pem key=CLIENT.key ca=NODE-CA.pem
 * </pre>
 * A TCP node is reached with mutual TLS, as the client its certificate names (its role there
 * decides what the forwarded lines may do).
 */
public record Nodes(Map<String, Endpoint> endpoints) {
  public static final Path DEFAULT_FILE = Path.of("/etc/vmlet/nodes");
  public static final Nodes NONE = new Nodes(Map.of());
  private static final Pattern TCP = Pattern.compile("tcp://(\\[[0-9a-fA-F:]+\\]|[^:/\\[\\]]+):([0-9]{1,5})");

  /**
   * How to reach one node: its unix socket, or a TCP address with this daemon's client certificate;
   * {@code authority}, when set, is the name the node's server certificate must carry (a peer found
   * through DNS), else its address is checked.
   */
  public record Endpoint(Path socket, InetSocketAddress tcp, Path cert, Path key, Path ca, String authority) {
    public Endpoint(Path socket, InetSocketAddress tcp, Path cert, Path key, Path ca) {
      this(socket, tcp, cert, key, ca, null);
    }

    public String describe() {
      return socket != null ? "unix:" + socket : "tcp://" + tcp.getHostString() + ":" + tcp.getPort();
    }

    /** A client of the node; a unix socket that nobody listens on is refused at once, saying so. */
    public DaemonClient connect(String node) throws IOException {
      if (socket != null) {
        if (!DaemonClient.isListening(socket)) {
          throw new IOException("node " + node + " (" + describe() + ") does not answer; is its daemon running?");
        }
        return new DaemonClient(socket);
      }
      return new DaemonClient(tcp, cert, key, ca, authority);
    }
  }

  public Nodes {
    endpoints = Collections.unmodifiableMap(new LinkedHashMap<>(endpoints)); // in the file's order
  }

  /** Nodes on unix sockets only. */
  public static Nodes ofSockets(Map<String, Path> sockets) {
    Map<String, Endpoint> m = new LinkedHashMap<>();
    sockets.forEach((k, v) -> m.put(k, new Endpoint(v, null, null, null, null)));
    return new Nodes(m);
  }

  /** The file's nodes; none when it does not exist. */
  public static Nodes load(Path file) throws IOException {
    List<String> lines;
    try {
      lines = Files.readAllLines(file);
    } catch (NoSuchFileException e) {
      return NONE;
    }
    return parse(file.toString(), lines);
  }

  public static Nodes parse(String source, List<String> lines) {
    Map<String, Endpoint> out = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).replaceFirst("#.*", "").strip();
      if (line.isEmpty()) {
        continue;
      }
      String[] f = line.split("\\s+");
      String where = source + " line " + (i + 1) + ": ";
      if (f.length < 2 || !f[0].matches("[a-z0-9][a-z0-9-]*")) {
        throw new IllegalArgumentException(where + "expected 'NAME unix:/path/to/vmlet.sock' or 'NAME tcp://HOST:PORT cert=... key=..."
            + " ca=...' with a lower-case name, got '" + line + "'");
      }
      Endpoint e;
      if (f[1].startsWith("tcp://")) {
        Matcher m = TCP.matcher(f[1]);
        if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
          throw new IllegalArgumentException(where + "'" + f[1] + "' is not tcp://HOST:PORT");
        }
        Map<String, Path> files = new HashMap<>();
        for (int k = 2; k < f.length; k++) {
          String[] kv = f[k].split("=", 2);
          if (kv.length != 2 || !List.of("cert", "key", "ca").contains(kv[0]) || !kv[1].startsWith("/")) {
            throw new IllegalArgumentException(where + "expected cert=/abs/path key=/abs/path ca=/abs/path after the address, got '"
                + f[k] + "'");
          }
          files.put(kv[0], Path.of(kv[1]));
        }
        if (files.size() != 3) {
          throw new IllegalArgumentException(where + "a tcp:// node needs cert=, key= and ca= (vmlet certs issue on that node makes them)");
        }
        e = new Endpoint(null, new InetSocketAddress(m.group(1).replace("[", "").replace("]", ""), Integer.parseInt(m.group(2))),
            files.get("cert"), files.get("key"), files.get("ca"));
      } else if (f.length == 2 && f[1].startsWith("unix:/")) {
        e = new Endpoint(Path.of(f[1].substring(5)), null, null, null, null);
      } else {
        throw new IllegalArgumentException(where + "the endpoint must be unix:/absolute/path or tcp://HOST:PORT with cert=, key=, ca=;"
            + " got '" + f[1] + "'");
      }
      if (out.put(f[0], e) != null) {
        throw new IllegalArgumentException(where + "node " + f[0] + " is listed twice");
      }
    }
    return new Nodes(out);
  }

  /**
   * How to reach a node.
   *
   * @throws IllegalArgumentException naming the file to add it to
   */
  public Endpoint endpoint(String node) {
    Endpoint e = endpoints.get(node);
    if (e == null) {
      throw new IllegalArgumentException("no node named '" + node + "'; add 'NAME unix:/path/to/vmlet.sock' or 'NAME tcp://HOST:PORT"
          + " cert=... key=... ca=...' to " + DEFAULT_FILE + " (or the daemon's --nodes file)"
          + (endpoints.isEmpty() ? "" : "; known: " + String.join(", ", endpoints.keySet())));
    }
    return e;
  }
}
