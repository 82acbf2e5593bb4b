package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.security.NodePki;
import dev.vmlet.security.Role;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import java.io.IOException;

@Command(name = "certs", mixinStandardHelpOptions = true,
    description = {"The node's certificate authority for remote controllers (vmlet daemon --listen): files in",
        "STATE_DIR/pki, keys 0600. Run on the node, as the daemon's user."},
    subcommands = {CertsCommand.Init.class, CertsCommand.Issue.class, CertsCommand.Revoke.class})
final class CertsCommand {
  abstract static class PkiOptions {
    @Option(names = "--state-dir", paramLabel = "DIR", description = "The daemon's state directory (default as the daemon's).")
    Path stateDir;

    NodePki pki() {
      VmletPaths p = VmletPaths.fromEnvironment();
      return new NodePki((stateDir != null ? stateDir : p.stateDir()).resolve("pki"));
    }
  }

  @Command(name = "init", mixinStandardHelpOptions = true,
      description = "Make the node CA (EC P-256, 10 years) and the server certificate (1 year) for this host's names.")
  static final class Init extends PkiOptions implements Callable<Integer> {
    @Option(names = "--san", paramLabel = "NAME|IP", description = "Another DNS name or address the node is reached by (repeatable).")
    List<String> sans = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
      NodePki pki = pki();
      try {
        pki.init(sans);
      } catch (IOException e) {
        throw new CliException(e.getMessage());
      }
      System.out.println("node CA and server certificate in " + pki.dir() + "; issue client certificates with: vmlet certs issue NAME --role ROLE");
      return 0;
    }
  }

  @Command(name = "issue", mixinStandardHelpOptions = true, description = "Make a client certificate and key with a role.")
  static final class Issue extends PkiOptions implements Callable<Integer> {
    @Parameters(paramLabel = "NAME", description = "Who it is for (its CN; shown in the audit log).")
    String name;

    @Option(names = "--role", required = true, paramLabel = "viewer|operator|admin", description = "What it may do.")
    String role;

    @Option(names = "--days", defaultValue = "365", description = "How long it is valid (default: ${DEFAULT-VALUE}).")
    int days;

    @Override
    public Integer call() throws Exception {
      if (days < 1 || days > 3650) {
        throw new CliException("--days must be 1 to 3650, got " + days);
      }
      NodePki pki = pki();
      try {
        pki.issueClient(name, Role.parse(role), Duration.ofDays(days));
      } catch (IllegalArgumentException | IOException e) {
        throw new CliException(e.getMessage());
      }
      System.out.println("certificate " + pki.clientCert(name) + ", key " + pki.clientKey(name) + " (0600), CA " + pki.caCert());
      System.out.println("use: vmlet list --node tcp://HOST:PORT --cert " + pki.clientCert(name) + " --key " + pki.clientKey(name) + " --ca "
          + pki.caCert() + "   (or VMLET_NODE, VMLET_CERT, VMLET_KEY, VMLET_CA)");
      return 0;
    }
  }

  @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a client certificate; the daemon stops accepting it at once.")
  static final class Revoke extends PkiOptions implements Callable<Integer> {
    @Parameters(paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws Exception {
      NodePki pki = pki();
      try {
        pki.revoke(name);
      } catch (IOException e) {
        throw new CliException(e.getMessage());
      }
      System.out.println("revoked " + name + " (" + pki.crl() + ")");
      return 0;
    }
  }
}
