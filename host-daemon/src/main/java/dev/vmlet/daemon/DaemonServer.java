package dev.vmlet.daemon;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.Nodes;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.api.VmServiceImpl;
import dev.vmlet.vm.VmManager;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import dev.vmlet.api.NodeServiceImpl;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.host.HostAccess;
import dev.vmlet.node.HostCapabilities;
import dev.vmlet.proto.v1.NodeServiceGrpc;
import dev.vmlet.proto.v1.VmServiceGrpc;
import dev.vmlet.security.Access;
import dev.vmlet.security.AuditLog;
import dev.vmlet.security.ClientTrust;
import dev.vmlet.security.HostPaths;
import dev.vmlet.security.NodePki;
import dev.vmlet.security.PeerCredentials;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptor;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.net.InetSocketAddress;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;

/**
 * The vmlet daemon's gRPC server on a local unix socket: VmService, health and reflection. Owns
 * start and stop; the services are thin.
 */
public final class DaemonServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(DaemonServer.class.getName());

  private final Path socket;
  private final VmManager manager;
  private final HealthStatusManager health = new HealthStatusManager();
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private Server server;

  private final HostAccess host;
  private final Fleet nodes;

  public DaemonServer(Path socket, VmManager manager) {
    this(socket, manager, HostAccess.disabled(), Nodes.NONE);
  }

  public DaemonServer(Path socket, VmManager manager, HostAccess host, Nodes nodes) {
    this(socket, manager, host, nodes, null, null);
  }

  /**
   * @param audit where mutating calls are recorded; null: next to the socket's state (tests)
   * @param tcp a TCP address to serve on with mutual TLS too, or null
   */
  public DaemonServer(Path socket, VmManager manager, HostAccess host, Nodes nodes,
      AuditLog audit, Tls tcp) {
    this(socket, manager, host, nodes, audit, tcp, Access.DEFAULT_STREAMS_PER_CALLER);
  }

  /** @param streamsPerCaller how many exec, transfer, console and watch streams one caller may hold open */
  public DaemonServer(Path socket, VmManager manager, HostAccess host, Nodes nodes,
      AuditLog audit, Tls tcp, int streamsPerCaller) {
    this(socket, manager, host, nodes, audit, tcp, streamsPerCaller, HostPaths.forHost(List.of(),
        QemuImg.beside(manager.qemuBinary())));
  }

  /** @param hostPaths decides which host paths each caller may name (with the directories remote callers may use) */
  public DaemonServer(Path socket, VmManager manager, HostAccess host, Nodes nodes,
      AuditLog audit, Tls tcp, int streamsPerCaller, HostPaths hostPaths) {
    this(socket, manager, host, Fleet.of(nodes), audit, tcp, streamsPerCaller, hostPaths);
  }

  /** @param nodes the nodes file's nodes and the peers found through DNS, for {@code @node/vm} lines and NodeService's fleet calls */
  public DaemonServer(Path socket, VmManager manager, HostAccess host, Fleet nodes,
      AuditLog audit, Tls tcp, int streamsPerCaller, HostPaths hostPaths) {
    this.socket = socket;
    this.manager = manager;
    this.host = host;
    this.nodes = nodes;
    this.access = new Access(audit != null ? audit
        : new AuditLog(socket.resolveSibling("audit.log")), streamsPerCaller, hostPaths);
    this.tcp = tcp;
  }

  /** Where and with which node CA the TLS listener serves. */
  public record Tls(InetSocketAddress address, NodePki pki) {}

  private final Access access;
  private final Tls tcp;
  private Server tlsServer;

  private ServerInterceptor outer;
  private ServerInterceptor inner;

  /**
   * Adds interceptors around the services (metrics); call before {@link #start}.
   *
   * @param outer sees every call first and its final status last, refusals by the access check included
   * @param inner sees only the calls the access check let through
   */
  public void instrument(ServerInterceptor outer, ServerInterceptor inner) {
    this.outer = outer;
    this.inner = inner;
  }

  /** The access check, whose per-caller stream counts the metrics read. */
  public Access access() {
    return access;
  }

  private <B extends ServerBuilder<B>> B services(B b) {
    // The interceptor added last runs first.
    if (inner != null) {
      b.intercept(inner);
    }
    b.intercept(access);
    if (outer != null) {
      b.intercept(outer);
    }
    return b
        .addService(new VmServiceImpl(manager, host, nodes))
        .addService(new NodeServiceImpl(manager, new HostCapabilities(Path.of("/"), manager.gpus().bus(),
            manager.qemuBinary(), manager::autoAccel), nodes))
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance());
  }

  private void startTls() throws IOException {
    NodePki pki = tcp.pki();
    if (!pki.servable()) {
      throw new IOException("--listen needs the node's certificates (ca.pem, server.pem, server.key) in " + pki.dir()
          + "; make them with: vmlet certs init (or give their directory with --pki)");
    }
    try {
      X509Certificate ca = NodePki.readCert(pki.caCert());
      var ssl = GrpcSslContexts.configure(
              SslContextBuilder.forServer(
                  NodePki.readKey(pki.serverKey()), NodePki.readCert(pki.serverCert()), ca))
          .trustManager(new ClientTrust(ca, pki.crl()))
          .clientAuth(ClientAuth.REQUIRE)
          .build();
      tlsServer = services(NettyServerBuilder.forAddress(tcp.address()).sslContext(ssl)).build().start();
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot read the node's certificates in " + pki.dir() + ": " + e.getMessage(), e);
    }
    LOG.info("vmlet daemon serving on tcp://" + tcp.address().getHostString() + ":" + tlsServer.getPort() + " (mutual TLS)");
  }

  /** The TLS listener's port (useful with port 0); -1 without one. */
  public int tlsPort() {
    return tlsServer == null ? -1 : tlsServer.getPort();
  }

  public void start() throws IOException {
    Files.createDirectories(socket.getParent());
    if (Files.exists(socket)) {
      if (DaemonClient.isListening(socket)) {
        throw new IOException("a vmlet daemon already listens on " + socket + " (stop it, or use --socket)");
      }
      Files.delete(socket); // left behind by a daemon that died
    }
    boss = new EpollEventLoopGroup(1);
    workers = new EpollEventLoopGroup(2);
    server = services(NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()),
            PeerCredentials.serverCredentials())
        .channelType(EpollServerDomainSocketChannel.class)
        .bossEventLoopGroup(boss)
        .workerEventLoopGroup(workers))
        .build()
        .start();
    if (tcp != null) {
      try {
        startTls();
      } catch (IOException e) {
        server.shutdownNow();
        throw e;
      }
    }
    // Group vmlet may connect (as operators) where the host has the group; else only this user and root.
    GroupPrincipal group = null;
    try {
      group = socket.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(Access.LOCAL_GROUP);
    } catch (IOException noGroup) {
      // no group vmlet on this host
    }
    if (group != null) {
      Files.getFileAttributeView(socket, PosixFileAttributeView.class).setGroup(group);
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
    } else {
      Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    }
    // Per service too: a client (or a load balancer) asks for the service it uses by its full name.
    for (String service : List.of("", VmServiceGrpc.SERVICE_NAME, NodeServiceGrpc.SERVICE_NAME)) {
      health.setStatus(service, ServingStatus.SERVING);
    }
    LOG.info("vmlet daemon serving on unix:" + socket);
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  @Override
  public void close() throws InterruptedException {
    health.enterTerminalState();
    if (tlsServer != null) {
      tlsServer.shutdownNow();
    }
    if (server != null) {
      server.shutdown();
      if (!server.awaitTermination(5, TimeUnit.SECONDS)) {
        server.shutdownNow();
      }
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    try {
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      LOG.warning("cannot remove " + socket + ": " + e.getMessage());
    }
  }
}
