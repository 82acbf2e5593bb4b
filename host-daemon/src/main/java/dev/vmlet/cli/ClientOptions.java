package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.client.DaemonClient;
import java.nio.file.Path;
import picocli.CommandLine.Option;
import java.io.IOException;
import java.nio.file.Files;

/** Options every client command shares: where the daemon listens. */
final class ClientOptions {
  @Option(names = "--socket", paramLabel = "PATH",
      description = "The daemon's unix socket (default: $VMLET_SOCKET, else /run/vmlet/vmlet.sock as root, else $XDG_RUNTIME_DIR/vmlet/vmlet.sock).")
  Path socket;

  @Option(names = "--node", paramLabel = "tcp://HOST:PORT", description = "A daemon's TCP listener, with mutual TLS (default: $VMLET_NODE).")
  String node;

  @Option(names = "--cert", paramLabel = "PEM", description = "This client's certificate for --node (default: $VMLET_CERT).")
  Path cert;

  @Option(names = "--key", paramLabel = "PEM", description = "Its private key (default: $VMLET_KEY).")
  Path key;

  @Option(names = "--ca", paramLabel = "PEM", description = "The node CA's certificate (default: $VMLET_CA).")
  Path ca;

  Path socketPath() {
    return socket != null ? socket : VmletPaths.fromEnvironment().socket();
  }

  /** tcp://HOST:PORT as an address; a clear error otherwise. */
  static java.net.InetSocketAddress tcpAddress(String endpoint) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("tcp://(\\[[0-9a-fA-F:]+\\]|[^:/\\[\\]]+):([0-9]{1,5})").matcher(endpoint);
    if (!m.matches() || Integer.parseInt(m.group(2)) > 65535) {
      throw new CliException("'" + endpoint + "' is not tcp://HOST:PORT (e.g. tcp://node2:7443 or tcp://[::1]:7443)");
    }
    return new java.net.InetSocketAddress(m.group(1).replace("[", "").replace("]", ""), Integer.parseInt(m.group(2)));
  }

  private static Path pathOr(Path given, String env, String what) {
    if (given != null) {
      return given;
    }
    String v = System.getenv(env);
    if (v == null || v.isBlank()) {
      throw new CliException("--node needs " + what + ": give --" + what + " PEM or set " + env + " (vmlet certs issue makes them)");
    }
    return Path.of(v);
  }

  /** Connects, or fails with what to do when no daemon listens. */
  DaemonClient connect() {
    String endpoint = node != null ? node : System.getenv("VMLET_NODE");
    if (endpoint != null && !endpoint.isBlank() && socket == null) {
      try {
        return new DaemonClient(tcpAddress(endpoint), pathOr(cert, "VMLET_CERT", "cert"), pathOr(key, "VMLET_KEY", "key"),
            pathOr(ca, "VMLET_CA", "ca"));
      } catch (IOException e) {
        throw new CliException(e.getMessage());
      }
    }
    Path s = socketPath();
    if (Files.exists(s) && !Files.isWritable(s)) {
      throw new CliException("no permission to use the daemon's socket " + s + ": add your user to group vmlet (operator), or run"
          + " as root or the daemon's user (admin)");
    }
    if (!DaemonClient.isListening(s)) {
      throw new CliException("no vmlet daemon is listening on " + s + "; start one with: vmlet daemon &");
    }
    return new DaemonClient(s);
  }
}
