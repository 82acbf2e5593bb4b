package dev.vmlet.daemon;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.Nodes;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.host.HostAccess;
import dev.vmlet.host.HostAgent;
import dev.vmlet.image.MicroImageResolver;
import dev.vmlet.metrics.DaemonCollector;
import dev.vmlet.metrics.MetricsEndpoint;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.vm.VmManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import dev.vmlet.api.OwnerChecks;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.security.Access;
import dev.vmlet.security.AuditLog;
import dev.vmlet.security.HostPaths;
import dev.vmlet.security.NodePki;
import java.net.InetSocketAddress;
import java.util.List;

/** A whole running daemon: the VM manager (with re-adopted VMs) behind the gRPC server. */
public final class Daemon implements AutoCloseable {
  public static final String DEFAULT_QEMU = "qemu-system-x86_64";

  private final VmManager manager;
  private final DaemonServer server;

  private final HostAccess host;
  private final MetricsEndpoint metrics;
  private final Fleet fleet;

  private Daemon(VmManager manager, DaemonServer server, HostAccess host, MetricsEndpoint metrics, Fleet fleet) {
    this.manager = manager;
    this.server = server;
    this.host = host;
    this.metrics = metrics;
    this.fleet = fleet;
  }

  /** The other nodes: the nodes file's and the discovered peers. */
  public Fleet fleet() {
    return fleet;
  }

  /** The metrics endpoint, or null when the daemon serves none. */
  public MetricsEndpoint metrics() {
    return metrics;
  }

  /** Where a daemon with metrics writes their address ({@code HOST:PORT}): beside its socket, where {@code vmlet top} finds it. */
  public static Path metricsAddressFile(Path socket) {
    return socket.resolveSibling("metrics.address");
  }

  /** Recovers persisted VMs, then starts serving on {@code paths.socket()}. */
  public static Daemon start(VmletPaths paths, String qemuBinary) throws IOException {
    return start(paths, qemuBinary, Options.DEFAULT);
  }

  /**
   * How @target lines reach beyond this daemon's VMs: {@code hostAgentJar} null leaves host
   * execution off; {@code hostAliases} name the host besides {@code host}; {@code nodes} are the
   * other daemons for {@code @node/vm}; {@code sysfs} is where PCI devices are read and bound
   * ({@code /sys}, or a fake tree); {@code gpuHook} runs before a GPU passthrough and after its give-back;
   * {@code allowPaths} are the directories under which remote operators and viewers may name host files;
   * {@code metrics} is where to serve Prometheus metrics, or null for none; {@code pkiDir} holds the TCP
   * listener's certificates (null: the state directory's pki); {@code nodeName} is the
   * name this node reports to its peers (null: from the host name); {@code peers} is where the
   * fleet's other daemons are found (DNS), or null for the nodes file only.
   */
  public record Options(Path hostAgentJar, List<String> hostAliases, Nodes nodes, Path sysfs, Path gpuHook,
      InetSocketAddress listen, List<Path> allowPaths, InetSocketAddress metrics, Path pkiDir, String nodeName,
      Fleet.Discovery peers) {
    public static final Options DEFAULT = new Options(null, List.of(), Nodes.NONE);

    public Options {
      allowPaths = allowPaths == null ? List.of() : List.copyOf(allowPaths);
      if (nodeName != null && !nodeName.matches("[a-z0-9][a-z0-9-]{0,62}")) {
        throw new IllegalArgumentException("a node name is 1-63 lower-case letters, digits and '-' (it is written @NODE/vm), got '"
            + nodeName + "'");
      }
    }

    public Options(Path hostAgentJar, List<String> hostAliases, Nodes nodes) {
      this(hostAgentJar, hostAliases, nodes, Path.of("/sys"), null, null, List.of());
    }

    public Options(Path hostAgentJar, List<String> hostAliases, Nodes nodes, Path sysfs, Path gpuHook,
        InetSocketAddress listen, List<Path> allowPaths) {
      this(hostAgentJar, hostAliases, nodes, sysfs, gpuHook, listen, allowPaths, null, null, null, null);
    }

    /** These options with Prometheus metrics served on {@code address}. */
    public Options withMetrics(InetSocketAddress address) {
      return new Options(hostAgentJar, hostAliases, nodes, sysfs, gpuHook, listen, allowPaths, address, pkiDir, nodeName, peers);
    }

    /**
     * These options with the TCP listener's certificates read from {@code dir} (ca.pem, server.pem,
     * server.key; crl.pem if there) instead of the state directory's pki: e.g. Swarm secrets.
     */
    public Options withPki(Path dir) {
      return new Options(hostAgentJar, hostAliases, nodes, sysfs, gpuHook, listen, allowPaths, metrics, dir, nodeName, peers);
    }

    /** These options with this node's name (null: from the host name) and where its peers are found (null: nowhere). */
    public Options withFleet(String name, Fleet.Discovery discovery) {
      return new Options(hostAgentJar, hostAliases, nodes, sysfs, gpuHook, listen, allowPaths, metrics, pkiDir, name, discovery);
    }
  }

  /** The node CA's directory: {@code pki} in the state directory. */
  public static NodePki pki(VmletPaths paths) {
    return new NodePki(paths.stateDir().resolve("pki"));
  }

  /** Recovers persisted VMs, starts the host's agent when enabled, then serves on {@code paths.socket()}. */
  public static Daemon start(VmletPaths paths, String qemuBinary, Options options) throws IOException {
    requireWritable(paths.stateDir(), "state directory", "--state-dir");
    requireWritable(paths.runDir(), "run directory", "--run-dir");
    if (DaemonClient.isListening(paths.socket())) {
      // Checked before re-adopting VMs: a second daemon must not touch the first one's QEMUs.
      throw new IOException("a vmlet daemon already listens on " + paths.socket() + " (stop it, or use --socket)");
    }
    AccelProbe probe = new AccelProbe(qemuBinary, Path.of("/dev/kvm"), Duration.ofSeconds(3));
    HostPaths hostPaths = HostPaths.forHost(options.allowPaths(),
        QemuImg.beside(qemuBinary));
    VmManager manager = new VmManager(paths, new MicroImageResolver(paths), probe, qemuBinary, Clock.systemUTC(),
        VmManager.defaultGpus(paths, options.sysfs(), options.gpuHook()), new OwnerChecks(hostPaths));
    manager.recover();
    HostAccess host = null;
    MetricsEndpoint metrics = null;
    Fleet fleet = new Fleet(options.nodeName() != null ? options.nodeName() : Fleet.defaultName(), options.nodes(), options.peers(),
        options.listen(), Fleet::describeOverGrpc);
    try {
      host = new HostAccess(options.hostAliases(),
          options.hostAgentJar() == null ? null : HostAgent.start(options.hostAgentJar(), paths.runDir()));
      AuditLog audit = new AuditLog(paths.stateDir().resolve("audit.log"));
      DaemonServer server = new DaemonServer(paths.socket(), manager, host, fleet, audit,
          options.listen() == null ? null : new DaemonServer.Tls(options.listen(),
              options.pkiDir() == null ? pki(paths) : new NodePki(options.pkiDir())),
          Access.DEFAULT_STREAMS_PER_CALLER, hostPaths);
      if (options.metrics() != null) {
        metrics = new MetricsEndpoint(manager, Path.of("/proc"), options.sysfs());
        metrics.register(new DaemonCollector(server.access()::openStreams, audit::refusedByMethod, manager::stateWriteFailures,
            audit::writeFailures));
        server.instrument(metrics.grpcMetrics(), metrics.vmCalls());
      }
      server.start();
      if (metrics != null) {
        try {
          metrics.serve(options.metrics(), metricsAddressFile(paths.socket()));
        } catch (IOException e) {
          closeQuietly(server);
          throw new IOException("cannot serve metrics on " + options.metrics().getHostString() + ":" + options.metrics().getPort()
              + ": " + e.getMessage(), e);
        }
      }
      fleet.start();
      return new Daemon(manager, server, host, metrics, fleet);
    } catch (IOException | RuntimeException e) {
      fleet.close();
      if (metrics != null) {
        metrics.close();
      }
      if (host != null) {
        host.close();
      }
      manager.close();
      throw e;
    }
  }

  /** Stops a server whose daemon failed to start. */
  private static void closeQuietly(DaemonServer server) {
    try {
      server.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Refuses to start on a directory it cannot write: every state change is persisted there, and
   * finding out at the first VM change would be too late. Nothing is killed or changed.
   */
  static void requireWritable(Path dir, String what, String flag) throws IOException {
    try {
      Files.createDirectories(dir);
      Path probe = Files.createTempFile(dir, ".write-probe", "");
      Files.delete(probe);
    } catch (IOException e) {
      throw new IOException("the " + what + " " + dir + " is not writable (" + e.getClass().getSimpleName() + ": "
          + e.getMessage() + "); fix its permissions or choose another with " + flag, e);
    }
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Stops serving and closes VM links; the VMs keep running for the next daemon to adopt. */
  @Override
  public void close() throws InterruptedException {
    fleet.close();
    if (metrics != null) {
      metrics.close();
    }
    server.close();
    host.close();
    manager.close();
  }
}
