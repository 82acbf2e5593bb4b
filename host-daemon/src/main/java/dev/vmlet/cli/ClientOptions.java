package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.daemon.DaemonClient;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every client command shares: where the daemon listens. */
final class ClientOptions {
  @Option(names = "--socket", paramLabel = "PATH",
      description = "The daemon's unix socket (default: $VMLET_SOCKET, else /run/vmlet/vmlet.sock as root, else $XDG_RUNTIME_DIR/vmlet/vmlet.sock).")
  Path socket;

  Path socketPath() {
    return socket != null ? socket : VmletPaths.fromEnvironment().socket();
  }

  /** Connects, or fails with what to do when no daemon listens. */
  DaemonClient connect() {
    Path s = socketPath();
    if (!DaemonClient.isListening(s)) {
      throw new CliException("no vmlet daemon is listening on " + s + "; start one with: vmlet daemon &");
    }
    return new DaemonClient(s);
  }
}
