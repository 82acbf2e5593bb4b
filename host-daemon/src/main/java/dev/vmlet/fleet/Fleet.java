package dev.vmlet.fleet;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.Nodes;
import dev.vmlet.proto.v1.DescribeNodeRequest;
import dev.vmlet.proto.v1.NodeSummary;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;

/**
 * The other nodes this daemon reaches for {@code @node/vm} targets: the static nodes file, and
 * the peers found through DNS ({@link PeerSource}). A discovered peer is known by the name it
 * reports (DescribeNode over mutual TLS), so a task that comes back on another address keeps its
 * name; an address that leaves the DNS answer drops its peer. The answer is asked again every
 * {@code interval}, and at once when a name is not known or a peer fails ({@link #refreshSoon}).
 * This node's own address (its listener, or the name it reports) is skipped.
 */
public final class Fleet implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Fleet.class.getName());
  /** How long a peer may take to say who it is. */
  static final Duration DESCRIBE_TIMEOUT = Duration.ofSeconds(5);
  public static final String NODES_FILE = "nodes-file";

  /** This daemon's client certificate for its peers, and the CA their certificates come from. */
  public record Credentials(Path cert, Path key, Path ca) {}

  /** Where peers are found, as which client, and how often. */
  public record Discovery(PeerSource source, Credentials credentials, Duration interval) {
    public Discovery {
      if (interval.isNegative() || interval.isZero()) {
        throw new IllegalArgumentException("the peer refresh interval must be positive, got " + interval);
      }
    }
  }

  /**
   * One node as last seen: its name (for an unreachable address, the last name it reported, or
   * null), how it is reached, where it was found, and its summary or why it could not be reached.
   */
  public record Peer(String name, String address, String source, Nodes.Endpoint endpoint, NodeSummary summary, String error) {
    public boolean reachable() {
      return error == null;
    }
  }

  /** Asks a node who it is (a seam for unit tests; the real one is a DescribeNode call). */
  public interface Describer {
    NodeSummary describe(Nodes.Endpoint endpoint, String name) throws IOException;
  }

  /** The addresses of the peer source now (a seam for unit tests; the real one is {@link PeerSource#resolve}). */
  interface Resolver {
    List<InetAddress> resolve() throws IOException;
  }

  private final String self;
  private final Nodes nodes;
  private final Resolver resolver;
  private final Discovery discovery;
  private final InetSocketAddress listener;
  private final Describer describer;
  private final ExecutorService askers;
  private ScheduledExecutorService timer;
  private final Object refreshing = new Object();
  /** The discovered peers by address, in the order of the last answer; replaced whole. */
  private volatile Map<InetSocketAddress, Peer> discovered = Map.of();
  private volatile String lastError;

  /**
   * @param self this node's name
   * @param discovery null: the nodes file only
   * @param listener this node's own TLS listener, skipped among the discovered addresses; null: none
   */
  public Fleet(String self, Nodes nodes, Discovery discovery, InetSocketAddress listener, Describer describer) {
    this(self, nodes, discovery, discovery == null ? null : discovery.source()::resolve, listener, describer);
  }

  Fleet(String self, Nodes nodes, Discovery discovery, Resolver resolver, InetSocketAddress listener, Describer describer) {
    this.self = self;
    this.resolver = resolver;
    this.nodes = nodes;
    this.discovery = discovery;
    this.listener = listener;
    this.describer = describer;
    this.askers = discovery == null ? null : Executors.newFixedThreadPool(4, r -> daemonThread(r, "fleet-describe"));
  }

  /** The nodes file only, no discovery. */
  public static Fleet of(Nodes nodes) {
    return new Fleet(defaultName(), nodes, null, null, Fleet::describeOverGrpc);
  }

  public String self() {
    return self;
  }

  public Discovery discovery() {
    return discovery;
  }

  /** Resolves once (errors are kept for {@link #peers}), then again every interval. */
  public void start() {
    if (discovery == null) {
      return;
    }
    timer = Executors.newSingleThreadScheduledExecutor(r -> daemonThread(r, "fleet-refresh"));
    long ms = discovery.interval().toMillis();
    timer.scheduleWithFixedDelay(this::refreshQuietly, 0, ms, TimeUnit.MILLISECONDS);
  }

  /** Asks DNS and the peers again soon, off the caller's thread (a peer failed). */
  public void refreshSoon() {
    ScheduledExecutorService t = timer;
    if (t != null && !t.isShutdown()) {
      t.execute(this::refreshQuietly);
    }
  }

  private void refreshQuietly() {
    try {
      refresh();
    } catch (RuntimeException e) {
      LOG.warning("peer discovery failed: " + e);
    }
  }

  /**
   * Resolves the source and asks every address who it is, now; returns the discovered peers.
   * Bounded: the DNS time-outs (3 s) and {@link #DESCRIBE_TIMEOUT} per round of peers.
   */
  public List<Peer> refresh() {
    if (discovery == null) {
      return List.of();
    }
    synchronized (refreshing) {
      List<InetAddress> addresses;
      try {
        addresses = resolver.resolve();
        lastError = null;
      } catch (IOException e) {
        // Keep what we knew: a DNS server that hiccups must not drop every peer at once.
        if (!e.getMessage().equals(lastError)) {
          LOG.warning(e.getMessage());
        }
        lastError = e.getMessage();
        return List.copyOf(discovered.values());
      }
      Map<InetSocketAddress, Future<NodeSummary>> asked = new LinkedHashMap<>();
      for (InetAddress a : addresses) {
        InetSocketAddress where = new InetSocketAddress(a, discovery.source().port());
        if (!isOwnListener(where) && !asked.containsKey(where)) {
          Nodes.Endpoint e = endpoint(where);
          asked.put(where, askers.submit(() -> describer.describe(e, discovery.source().name())));
        }
      }
      Map<InetSocketAddress, Peer> before = discovered;
      Map<InetSocketAddress, Peer> now = new LinkedHashMap<>();
      Map<String, InetSocketAddress> byName = new LinkedHashMap<>();
      long deadline = System.nanoTime() + DESCRIBE_TIMEOUT.plusSeconds(1).toNanos();
      for (Map.Entry<InetSocketAddress, Future<NodeSummary>> f : asked.entrySet()) {
        InetSocketAddress where = f.getKey();
        Peer old = before.get(where);
        String address = describe(where);
        String source = discovery.source().toString();
        try {
          NodeSummary s = f.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
          if (s.getName().equals(self)) {
            continue; // this node, seen through an address of its own
          }
          InetSocketAddress other = byName.putIfAbsent(s.getName(), where);
          if (other != null) {
            now.put(where, new Peer(s.getName(), address, source, endpoint(where), null, "reports the node name '" + s.getName()
                + "', as does " + describe(other) + "; give each daemon its own --node-name"));
            continue;
          }
          now.put(where, new Peer(s.getName(), address, source, endpoint(where), s, null));
          if (old == null || !s.getName().equals(old.name()) || !old.reachable()) {
            LOG.info("peer " + s.getName() + " found at " + address + " (" + source + ")");
          }
        } catch (ExecutionException e) {
          now.put(where, unreachable(old, where, address, source, reason(e.getCause())));
        } catch (TimeoutException e) {
          f.getValue().cancel(true);
          now.put(where, unreachable(old, where, address, source, "did not say who it is within " + DESCRIBE_TIMEOUT.toSeconds()
              + " s"));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return List.copyOf(before.values());
        }
      }
      for (Map.Entry<InetSocketAddress, Peer> gone : before.entrySet()) {
        if (!now.containsKey(gone.getKey()) && gone.getValue().name() != null) {
          LOG.info("peer " + gone.getValue().name() + " at " + gone.getValue().address() + " left " + discovery.source());
        }
      }
      discovered = now;
      return List.copyOf(now.values());
    }
  }

  private Peer unreachable(Peer old, InetSocketAddress where, String address, String source, String why) {
    if (old != null && old.reachable()) {
      LOG.warning("peer " + old.name() + " at " + address + " cannot be reached: " + why);
    }
    return new Peer(old == null ? null : old.name(), address, source, endpoint(where), null, why);
  }

  /** The discovered peers as last seen (the nodes file's are not in it). */
  public List<Peer> discovered() {
    return List.copyOf(discovered.values());
  }

  /** Why the last DNS question failed, or null when it was answered. */
  public String discoveryError() {
    return lastError;
  }

  /** The nodes file's nodes, each asked who it is now (in parallel, {@link #DESCRIBE_TIMEOUT} each). */
  public List<Peer> staticNodes() {
    List<Peer> out = new ArrayList<>();
    for (Map.Entry<String, Nodes.Endpoint> n : nodes.endpoints().entrySet()) {
      String why;
      NodeSummary s = null;
      try {
        s = describer.describe(n.getValue(), n.getKey());
        why = null;
      } catch (IOException | RuntimeException e) {
        why = reason(e);
      }
      out.add(new Peer(n.getKey(), n.getValue().describe(), NODES_FILE, n.getValue(), s, why));
    }
    return out;
  }

  /**
   * How to reach a node by name: the nodes file first, then the discovered peers; a name not
   * known yet makes the fleet ask DNS again before it gives up.
   *
   * @throws IllegalArgumentException naming the known nodes and how to add one
   */
  public Nodes.Endpoint endpoint(String name) {
    if (nodes.endpoints().containsKey(name) || discovery == null) {
      return nodes.endpoint(name);
    }
    Peer p = reachablePeer(name);
    if (p == null) {
      refresh();
      p = reachablePeer(name);
    }
    if (p == null) {
      List<String> known = new ArrayList<>(nodes.endpoints().keySet());
      discovered.values().stream().filter(Peer::reachable).map(Peer::name).forEach(known::add);
      String down = discovered.values().stream().filter(x -> name.equals(x.name()) && !x.reachable())
          .map(x -> "; node " + name + " at " + x.address() + " cannot be reached: " + x.error()).findFirst().orElse("");
      throw new IllegalArgumentException("no node named '" + name + "' among the peers of " + discovery.source()
          + (lastError == null ? "" : " (" + lastError + ")") + " or in the nodes file" + down
          + (known.isEmpty() ? "; no other node is known" : "; known: " + String.join(", ", known)) + " (vmlet nodes lists them)");
    }
    return p.endpoint();
  }

  /**
   * This node through its own TLS listener, as the fleet's peer client: a line across nodes runs
   * each stage through its node's API, this node's too, so every stage runs as the same client.
   *
   * @throws IllegalArgumentException without a listener or discovery, saying which flags it needs
   */
  public Nodes.Endpoint selfEndpoint() {
    if (discovery == null || listener == null || listener.isUnresolved() || listener.getPort() == 0) {
      throw new IllegalArgumentException("a line across nodes runs each stage through its node's API, this node's too, with the"
          + " fleet's certificate: start this daemon with --listen tcp://HOST:PORT and --peers dns:NAME:PORT");
    }
    InetAddress a = listener.getAddress().isAnyLocalAddress() ? InetAddress.getLoopbackAddress() : listener.getAddress();
    return endpoint(new InetSocketAddress(a, listener.getPort()));
  }

  private Peer reachablePeer(String name) {
    return discovered.values().stream().filter(p -> p.reachable() && name.equals(p.name())).findFirst().orElse(null);
  }

  private Nodes.Endpoint endpoint(InetSocketAddress where) {
    Credentials c = discovery.credentials();
    return new Nodes.Endpoint(null, where, c.cert(), c.key(), c.ca(), discovery.source().name());
  }

  /** This daemon's own TLS listener: the address it listens on, or any local address when it listens on all. */
  private boolean isOwnListener(InetSocketAddress a) {
    InetSocketAddress l = listener;
    if (l == null || l.getPort() != a.getPort()) {
      return false;
    }
    if (!l.isUnresolved() && !l.getAddress().isAnyLocalAddress()) {
      return l.getAddress().equals(a.getAddress());
    }
    try {
      return NetworkInterface.getByInetAddress(a.getAddress()) != null;
    } catch (SocketException e) {
      return false;
    }
  }

  private static String describe(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return "tcp://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** What went wrong, in one line: the gRPC status and its cause (a refused connection, a certificate). */
  public static String reason(Throwable t) {
    if (t instanceof StatusRuntimeException s) {
      String d = s.getStatus().getCode() + (s.getStatus().getDescription() == null ? "" : ": " + s.getStatus().getDescription());
      Throwable c = s.getCause();
      while (c != null && c.getCause() != null && c.getCause() != c) {
        c = c.getCause();
      }
      return c == null ? d : d + " (" + c.getClass().getSimpleName() + ": " + c.getMessage() + ")";
    }
    return t.getClass().getSimpleName() + ": " + t.getMessage();
  }

  /** DescribeNode over the endpoint's connection (mutual TLS for a TCP node). */
  public static NodeSummary describeOverGrpc(Nodes.Endpoint endpoint, String name) throws IOException {
    DaemonClient c = endpoint.connect(name);
    try {
      return c.node().withDeadlineAfter(DESCRIBE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
          .describeNode(DescribeNodeRequest.getDefaultInstance());
    } finally {
      try {
        c.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * The default node name: the host name's first label, in the letters a {@code @node/vm} target
   * allows (lower case, digits, '-').
   */
  public static String defaultName() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "localhost";
    }
    String n = host.toLowerCase(java.util.Locale.ROOT).replaceFirst("\\..*", "").replaceAll("[^a-z0-9-]", "-")
        .replaceFirst("^-+", "");
    n = n.length() > 63 ? n.substring(0, 63) : n;
    return n.isEmpty() ? "localhost" : n;
  }

  private static Thread daemonThread(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
    if (askers != null) {
      askers.shutdownNow();
    }
  }
}
