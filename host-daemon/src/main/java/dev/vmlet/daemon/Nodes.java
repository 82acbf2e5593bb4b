package dev.vmlet.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The other nodes this daemon can reach for {@code @node/vm} targets, from a file of lines
 * {@code NAME unix:/path/to/vmlet.sock} ({@code #} starts a comment). Remote TCP nodes need mutual
 * TLS, which is not built yet; they are refused with that reason.
 */
public record Nodes(Map<String, Path> sockets) {
  public static final Path DEFAULT_FILE = Path.of("/etc/vmlet/nodes");
  public static final Nodes NONE = new Nodes(Map.of());

  public Nodes {
    sockets = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sockets)); // in the file's order
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

  static Nodes parse(String source, List<String> lines) {
    Map<String, Path> out = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).replaceFirst("#.*", "").strip();
      if (line.isEmpty()) {
        continue;
      }
      String[] f = line.split("\\s+");
      String where = source + " line " + (i + 1) + ": ";
      if (f.length != 2 || !f[0].matches("[a-z0-9][a-z0-9-]*")) {
        throw new IllegalArgumentException(where + "expected 'NAME unix:/path/to/vmlet.sock' with a lower-case name, got '" + line + "'");
      }
      if (f[1].startsWith("tcp://")) {
        throw new IllegalArgumentException(where + "tcp:// nodes need mutual TLS, which this vmlet does not have yet; use unix:PATH");
      }
      if (!f[1].startsWith("unix:") || !f[1].substring(5).startsWith("/")) {
        throw new IllegalArgumentException(where + "the endpoint must be unix:/absolute/path, got '" + f[1] + "'");
      }
      if (out.put(f[0], Path.of(f[1].substring(5))) != null) {
        throw new IllegalArgumentException(where + "node " + f[0] + " is listed twice");
      }
    }
    return new Nodes(out);
  }

  /**
   * The socket of a node.
   *
   * @throws IllegalArgumentException naming the file to add it to
   */
  public Path socket(String node) {
    Path p = sockets.get(node);
    if (p == null) {
      throw new IllegalArgumentException("no node named '" + node + "'; add 'NAME unix:/path/to/vmlet.sock' to "
          + DEFAULT_FILE + " (or the daemon's --nodes file)" + (sockets.isEmpty() ? "" : "; known: " + String.join(", ", sockets.keySet())));
    }
    return p;
  }
}
