package dev.vmlet.client;

import dev.vmlet.proto.v1.VmServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import dev.vmlet.proto.v1.NodeServiceGrpc;
import dev.vmlet.security.NodePki;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollSocketChannel;
import java.net.InetSocketAddress;
import java.security.GeneralSecurityException;

/** A client connection to a daemon's unix socket. Every call made through it needs a deadline. */
public final class DaemonClient implements AutoCloseable {
  /**
   * Netty warns on every connection that unix sockets have no SO_KEEPALIVE (grpc sets it for
   * TCP). Held in a field: JUL keeps loggers weakly, and a collected logger forgets its level.
   */
  private static final Logger NETTY_BOOTSTRAP = Logger.getLogger("io.grpc.netty.shaded.io.netty.bootstrap");

  static {
    NETTY_BOOTSTRAP.setLevel(Level.SEVERE);
  }

  private final EventLoopGroup group = new EpollEventLoopGroup(1);
  private final ManagedChannel channel;
  private final Path socket;

  public DaemonClient(Path socket) {
    this.socket = socket;
    this.channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollDomainSocketChannel.class)
        .eventLoopGroup(group)
        .usePlaintext()
        .maxInboundMessageSize(16 << 20)
        .build();
  }

  /**
   * A client of a daemon's TCP listener with mutual TLS: this client's certificate and key, and
   * the node CA that the daemon's certificate must come from.
   */
  public DaemonClient(InetSocketAddress node, Path cert, Path key, Path ca) throws IOException {
    this(node, cert, key, ca, null);
  }

  /**
   * As above, checking the daemon's certificate against {@code authority} instead of the address:
   * a peer found through DNS has an address no certificate can list in advance, so its server
   * certificate names the service ({@code vmlet certs init --name tasks.vmlet}) and that name is
   * checked. Null: the address.
   */
  public DaemonClient(InetSocketAddress node, Path cert, Path key, Path ca, String authority) throws IOException {
    this.socket = null;
    try {
      var ssl = GrpcSslContexts.forClient()
          .trustManager(NodePki.readCert(ca))
          .keyManager(NodePki.readKey(key), NodePki.readCert(cert))
          .build();
      NettyChannelBuilder b = NettyChannelBuilder.forAddress(node).eventLoopGroup(group)
          .channelType(EpollSocketChannel.class)
          .sslContext(ssl).maxInboundMessageSize(16 << 20);
      if (authority != null) {
        b.overrideAuthority(authority + ":" + node.getPort());
      }
      this.channel = b.build();
    } catch (GeneralSecurityException e) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      throw new IOException("cannot read the client certificate, key or CA: " + e.getMessage(), e);
    }
  }

  public Path socket() {
    return socket;
  }

  public VmServiceGrpc.VmServiceBlockingStub vms() {
    return VmServiceGrpc.newBlockingStub(channel);
  }

  public NodeServiceGrpc.NodeServiceBlockingStub node() {
    return NodeServiceGrpc.newBlockingStub(channel);
  }

  public VmServiceGrpc.VmServiceStub vmsAsync() {
    return VmServiceGrpc.newStub(channel);
  }

  /** The standard gRPC health service: "" for the daemon, or a service's full name (vmlet.v1.VmService). */
  public HealthGrpc.HealthBlockingStub health() {
    return HealthGrpc.newBlockingStub(channel);
  }

  /**
   * True when something accepts connections on the socket. The JDK's own unix sockets, not
   * junixsocket: junixsocket unpacks and loads its native library first, a cost every CLI command
   * paid for this one probe. The connect does not block: a listener whose backlog is full answers
   * EAGAIN at once and counts as not listening, as it did before after junixsocket's 1 s time-out.
   */
  public static boolean isListening(Path socket) {
    if (!Files.exists(socket)) {
      return false;
    }
    try (SocketChannel s = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      s.configureBlocking(false);
      s.connect(UnixDomainSocketAddress.of(socket));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow();
    channel.awaitTermination(2, TimeUnit.SECONDS);
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
  }
}
