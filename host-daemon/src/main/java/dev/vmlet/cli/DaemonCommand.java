package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.daemon.Daemon;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import dev.vmlet.client.Nodes;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.fleet.PeerSource;
import dev.vmlet.security.NodePki;
import dev.vmlet.security.HostPaths;
import dev.vmlet.spec.VmConfig;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

@Command(name = "daemon", mixinStandardHelpOptions = true,
    description = {"Serve the vmlet gRPC API on a local unix socket until interrupted.",
        "VMs keep running when the daemon stops; the next daemon re-adopts them."})
final class DaemonCommand implements Callable<Integer> {
  @Option(names = "--socket", paramLabel = "PATH", description = "Unix socket to serve on.")
  Path socket;

  @Option(names = "--state-dir", paramLabel = "DIR", description = "Per-VM state (default /var/lib/vmlet as root, else $XDG_STATE_HOME/vmlet).")
  Path stateDir;

  @Option(names = "--run-dir", paramLabel = "DIR", description = "Sockets and pidfiles (default /run/vmlet as root, else $XDG_RUNTIME_DIR/vmlet).")
  Path runDir;

  @Option(names = "--cache-dir", paramLabel = "DIR", description = "Built images (default /var/cache/vmlet as root, else $XDG_CACHE_HOME/vmlet).")
  Path cacheDir;

  @Option(names = "--qemu", paramLabel = "BINARY", defaultValue = Daemon.DEFAULT_QEMU, description = "QEMU binary (default: ${DEFAULT-VALUE}).")
  String qemu;

  @Option(names = "--allow-host-exec", description = {"Let @target lines run commands and use files on this host (@host),",
      "through an agent the daemon starts here. Off by default."})
  boolean allowHostExec;

  @Option(names = "--host-alias", paramLabel = "NAME", description = "Another name for @host in @target lines (repeatable), e.g. spirit.")
  List<String> hostAliases = new ArrayList<>();

  @Option(names = "--nodes", paramLabel = "FILE", description = {"Other nodes for @node/vm targets: lines 'NAME unix:/path/to/vmlet.sock'",
      "(default /etc/vmlet/nodes when it exists)."})
  Path nodesFile;

  @Option(names = "--node-name", paramLabel = "NAME", description = {"This node's name in @NAME/vm lines and vmlet nodes, reported to its",
      "peers (default: the host name's first label)."})
  String nodeName;

  @Option(names = "--peers", paramLabel = "dns:NAME:PORT", description = {"Find the fleet's other daemons through DNS: every address of NAME",
      "(Swarm's tasks.SERVICE, a Kubernetes headless Service) on PORT, asked again every --peer-interval;",
      "dns://SERVER[:PORT]/NAME:PORT asks that DNS server. Peers are reached with mutual TLS only."})
  String peers;

  @Option(names = "--peer-interval", paramLabel = "SECONDS", defaultValue = "10", description = "How often to ask DNS for peers (default: ${DEFAULT-VALUE}).")
  int peerInterval;

  @Option(names = "--peer-cert", paramLabel = "PEM", description = "This daemon's client certificate for its peers (default: STATE/pki/clients/peer.pem).")
  Path peerCert;

  @Option(names = "--peer-key", paramLabel = "PEM", description = "Its key (default: STATE/pki/clients/peer.key).")
  Path peerKey;

  @Option(names = "--peer-ca", paramLabel = "PEM", description = "The CA the peers' certificates come from (default: STATE/pki/ca.pem).")
  Path peerCa;

  @Option(names = "--sysfs-root", paramLabel = "DIR", defaultValue = "/sys", description = "Where PCI devices are read and bound (default: ${DEFAULT-VALUE}).")
  Path sysfsRoot;

  @Option(names = "--gpu-hook", paramLabel = "SCRIPT", description = {"Run 'SCRIPT before VM ADDRESS...' before a GPU passthrough and 'SCRIPT after ...'",
      "after it is given back (e.g. to stop and start a display manager on a single-GPU host)."})
  Path gpuHook;

  @Option(names = "--listen", paramLabel = "tcp://HOST:PORT", description = {"Also serve over TCP, with mutual TLS only (client",
      "certificates from vmlet certs issue; the node's certificates from vmlet certs init)."})
  String listen;

  @Option(names = "--pki", paramLabel = "DIR", description = {"Read the TCP listener's certificates from DIR (ca.pem, server.pem,",
      "server.key, and crl.pem if there), e.g. /run/secrets with Swarm secrets; default: the state directory's pki."})
  Path pkiDir;

  @Option(names = "--allow-path", paramLabel = "DIR", description = {"Let remote operators and viewers (TCP) name host files under DIR",
      "(repeatable): disk images, kernels, initramfs. Without it they may use images by name only;",
      "local users may use the files they can read themselves, admins any."})
  List<Path> allowPaths = new ArrayList<>();

  @Option(names = "--metrics", paramLabel = "HOST:PORT", description = {"Serve Prometheus metrics on http://HOST:PORT/metrics (off by default;",
      "plain HTTP, so a loopback address unless --metrics-non-local; docs/metrics.md)."})
  String metrics;

  @Option(names = "--metrics-non-local", description = {"Let --metrics bind an address other than loopback: the metrics (VM names,",
      "labels, activity) are then readable by anyone who can reach it, without TLS or authentication."})
  boolean metricsNonLocal;

  @Override
  public Integer call() throws Exception {
    Logging.daemonMode();
    VmletPaths paths = resolve(VmletPaths.fromEnvironment());
    if (gpuHook != null && !Files.isExecutable(gpuHook)) {
      throw new CliException("the GPU hook " + gpuHook + " is not an executable file (chmod +x it)");
    }
    for (String alias : hostAliases) {
      VmConfig.validateName(alias);
    }
    if (nodesFile != null && !Files.isRegularFile(nodesFile)) {
      throw new CliException("the nodes file " + nodesFile + " does not exist");
    }
    Nodes nodes;
    try {
      nodes = Nodes.load(nodesFile != null ? nodesFile : Nodes.DEFAULT_FILE);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage());
    }
    try {
      HostPaths.realDirs(allowPaths);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage());
    }
    InetSocketAddress metricsAddress = metrics == null ? null : metricsAddress(metrics, metricsNonLocal);
    Daemon.Options options;
    try {
      options = new Daemon.Options(allowHostExec ? AgentJar.locate() : null, hostAliases, nodes,
          sysfsRoot, gpuHook, listen == null ? null : ClientOptions.tcpAddress(listen), allowPaths).withMetrics(metricsAddress)
          .withPki(pkiDir).withFleet(nodeName, discovery(paths));
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage());
    }
    Daemon daemon = Daemon.start(paths, qemu, options);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        daemon.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "vmlet-shutdown"));
    System.out.println("vmlet daemon listening on unix:" + paths.socket() + (listen == null ? "" : " and " + listen + " (mutual TLS)")
        + " (state " + paths.stateDir() + ")" + (allowHostExec ? "; @host enabled" : "")
        + (allowPaths.isEmpty() ? "" : "; remote callers may name files under " + allowPaths)
        + "; node " + daemon.fleet().self() + (peers == null ? "" : ", peers from " + daemon.fleet().discovery().source())
        + (daemon.metrics() == null ? "" : "; metrics on http://" + metricsAddress.getAddress().getHostAddress() + ":"
            + daemon.metrics().port() + "/metrics"));
    daemon.awaitTermination();
    return 0;
  }

  /**
   * HOST:PORT for the metrics endpoint, resolved now. A non-loopback address needs {@code nonLocal}:
   * the endpoint has no TLS and no authentication (docs/metrics.md says why).
   */
  static InetSocketAddress metricsAddress(String hostPort, boolean nonLocal) {
    InetSocketAddress a;
    try {
      a = ClientOptions.tcpAddress("tcp://" + hostPort);
    } catch (CliException e) {
      throw new CliException("--metrics " + hostPort + " is not HOST:PORT (e.g. 127.0.0.1:9177, [::1]:9177)");
    }
    if (a.isUnresolved()) {
      throw new CliException("--metrics " + hostPort + ": cannot resolve " + a.getHostString());
    }
    if (!a.getAddress().isLoopbackAddress() && !nonLocal) {
      throw new CliException("--metrics " + hostPort + " is not a loopback address; the metrics endpoint is plain HTTP without "
          + "authentication: use 127.0.0.1:PORT, or add --metrics-non-local to serve it on " + a.getHostString() + " anyway");
    }
    return a;
  }

  /** Where peers are found and as which client, or null without --peers; a missing certificate says how to make it. */
  Fleet.Discovery discovery(VmletPaths paths) {
    if (peers == null) {
      return null;
    }
    PeerSource source = PeerSource.parse(peers);
    if (peerInterval < 1) {
      throw new CliException("--peer-interval must be at least 1 second, got " + peerInterval);
    }
    NodePki pki = Daemon.pki(paths);
    Fleet.Credentials c = new Fleet.Credentials(peerCert != null ? peerCert : pki.clientCert("peer"),
        peerKey != null ? peerKey : pki.clientKey("peer"), peerCa != null ? peerCa : pki.caCert());
    for (Path f : List.of(c.cert(), c.key(), c.ca())) {
      if (!Files.isRegularFile(f)) {
        throw new CliException("--peers needs this daemon's client certificate, key and the fleet's CA; " + f + " does not exist."
            + " Make them with: vmlet certs issue peer --role operator (on the node whose CA the fleet shares), or give"
            + " --peer-cert, --peer-key and --peer-ca");
      }
    }
    return new Fleet.Discovery(source, c, java.time.Duration.ofSeconds(peerInterval));
  }

  VmletPaths resolve(VmletPaths p) {
    if (stateDir != null) {
      p = p.withStateDir(stateDir);
    }
    if (runDir != null) {
      p = p.withRunDir(runDir);
    }
    if (cacheDir != null) {
      p = p.withCacheDir(cacheDir);
    }
    if (socket != null) {
      p = p.withSocket(socket);
    }
    return p;
  }
}
