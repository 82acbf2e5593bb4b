package dev.vmlet.metrics;

import dev.vmlet.spec.VmException;
import dev.vmlet.vm.VmManager;
import dev.vmlet.vm.VmState;
import dev.vmlet.vm.VmView;
import io.grpc.ServerInterceptor;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The daemon's Prometheus endpoint ({@code vmlet daemon --metrics HOST:PORT}): one registry with
 * the VMs' numbers, the gRPC server's, the daemon's own and the JVM's, served as the Prometheus
 * text format by the Prometheus Java client's HTTP server on {@code /metrics}. Create it before
 * the gRPC server starts (its interceptors go into the server), serve once the server runs.
 */
public final class MetricsEndpoint implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(MetricsEndpoint.class.getName());
  /** Once a second: disk rates in {@code vmlet top} are this fresh; query-blockstats costs QEMU microseconds. */
  public static final Duration SAMPLE_INTERVAL = Duration.ofSeconds(1);

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final VmSampler sampler;
  private final GrpcMetrics grpc;
  private final VmCallMetrics vmCalls;
  private final AutoCloseable watch;
  private HTTPServer http;
  private Path addressFile;

  /** Watches {@code manager}'s VMs; reads QEMU processes under {@code procRoot} and TAP devices under {@code sysRoot}. */
  public MetricsEndpoint(VmManager manager, Path procRoot, Path sysRoot) {
    VmActivity activity = new VmActivity(registry);
    this.watch = manager.watch(activity::on);
    this.sampler = new VmSampler(() -> running(manager), System::currentTimeMillis);
    this.grpc = new GrpcMetrics(registry);
    this.vmCalls = new VmCallMetrics(activity, n -> exists(manager, n));
    registry.register(new VmCollector(manager::list, sampler, procRoot, sysRoot));
    JvmMetrics.builder().register(registry);
  }

  /** Goes outermost around the services: every call and its final status. */
  public ServerInterceptor grpcMetrics() {
    return grpc;
  }

  /** Goes inside the access check: Exec and file calls per VM. */
  public ServerInterceptor vmCalls() {
    return vmCalls;
  }

  /** Adds the daemon's own counters, read from the classes that keep them. */
  public void register(DaemonCollector daemon) {
    registry.register(daemon);
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  /** The sampler, for a caller that wants one round now (tests, the bench). */
  public VmSampler sampler() {
    return sampler;
  }

  /**
   * Starts sampling and serves {@code /metrics} on {@code address}; writes the address it got as
   * {@code HOST:PORT} to {@code addressFile} (where {@code vmlet top} looks), removed on close.
   */
  public void serve(InetSocketAddress address, Path addressFile) throws IOException {
    sampler.start(SAMPLE_INTERVAL);
    http = HTTPServer.builder().inetAddress(address.getAddress()).port(address.getPort()).registry(registry).buildAndStart();
    String served = address.getAddress().getHostAddress() + ":" + http.getPort();
    if (addressFile != null) {
      Files.writeString(addressFile, served + "\n");
      this.addressFile = addressFile;
    }
    LOG.info("metrics on http://" + served + "/metrics");
  }

  /** The port served on (useful with port 0); -1 before {@link #serve}. */
  public int port() {
    return http == null ? -1 : http.getPort();
  }

  /** The VMs whose QEMU runs, with what the sampler needs; never waits for a VM operation. */
  static List<VmSampler.Running> running(VmManager manager) {
    List<VmSampler.Running> out = new ArrayList<>();
    for (VmView v : manager.list()) {
      VmState s = v.record().state();
      if (s == VmState.RUNNING || s == VmState.PAUSED) {
        String name = v.record().config().name();
        out.add(new VmSampler.Running(name, manager.qmp(name)));
      }
    }
    return out;
  }

  private static boolean exists(VmManager manager, String name) {
    try {
      manager.get(name);
      return true;
    } catch (VmException e) {
      return false; // no such VM, or not a valid name
    }
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
    }
    sampler.close();
    try {
      watch.close();
    } catch (Exception e) {
      LOG.fine("closing the metrics' VM watch: " + e);
    }
    if (addressFile != null) {
      try {
        Files.deleteIfExists(addressFile);
      } catch (IOException e) {
        LOG.warning("cannot remove " + addressFile + ": " + e.getMessage());
      }
    }
  }
}
