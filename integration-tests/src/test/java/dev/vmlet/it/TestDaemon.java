package dev.vmlet.it;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.daemon.Daemon;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.image.MicroImageBuilder;
import java.nio.file.Path;
import dev.vmlet.client.Nodes;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real daemon in this JVM for a VM test class: state and sockets under the test's directory,
 * the image cache shared with ./vmlet so the micro image is built once per agent version.
 */
final class TestDaemon implements AutoCloseable {
  final VmletPaths paths;
  final Daemon daemon;
  final DaemonClient client;

  private TestDaemon(VmletPaths paths, Daemon daemon, DaemonClient client) {
    this.paths = paths;
    this.daemon = daemon;
    this.client = client;
  }

  /** Skips the test class when QEMU is missing; builds the micro image when it is stale. */
  static TestDaemon start(Path dir) throws Exception {
    return start(dir, Daemon.Options.DEFAULT);
  }

  /** A daemon with @host enabled through the agent jar, and the alias {@code spirit}. */
  static TestDaemon withHostExec(Path dir) throws Exception {
    return start(dir, new Daemon.Options(Path.of(System.getProperty("vmlet.agentJar")), List.of("spirit"),
        Nodes.NONE));
  }

  /** A daemon that serves Prometheus metrics on a free loopback port ({@code daemon.metrics().port()}). */
  static TestDaemon withMetrics(Path dir) throws Exception {
    return start(dir, Daemon.Options.DEFAULT.withMetrics(new InetSocketAddress("127.0.0.1", 0)));
  }

  /** A daemon (meant to have no VMs) that reaches others as nodes. */
  static TestDaemon withNodes(Path dir, Nodes nodes) throws Exception {
    return start(dir, new Daemon.Options(null, List.of(), nodes));
  }

  /** A daemon with these options (a TCP listener, a node name, peers found through DNS). */
  static TestDaemon withOptions(Path dir, Daemon.Options options) throws Exception {
    return start(dir, options);
  }

  private static TestDaemon start(Path dir, Daemon.Options host) throws Exception {
    Qemu.assumeInstalled();
    Qemu.reachable(dir);
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    MicroImageBuilder.build(Path.of(System.getProperty("vmlet.agentJar")), microImage(),
        line -> System.out.println("[image] " + line));
    VmletPaths paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), cache, dir.resolve("run/vmlet.sock"));
    Daemon daemon = Daemon.start(paths, Qemu.BINARY, host);
    return new TestDaemon(paths, daemon, new DaemonClient(paths.socket()));
  }

  /** Builds the agent bundle that cloud images and user disk images get, when it is stale. */
  static void agentBundle() throws Exception {
    ImageBuilder.build(ImageBuilder.AGENT_BUNDLE, Path.of(System.getProperty("vmlet.agentJar")),
        VmletPaths.fromEnvironment().cacheDir().resolve("images/agent-bundle"), line -> System.out.println("[bundle] " + line));
  }

  /** Builds the micro-generic image (the micro image on Debian's generic kernel, with 9p) when it is stale. */
  static void microGeneric() throws Exception {
    MicroImageBuilder.build(ImageBuilder.MICRO_GENERIC, Path.of(System.getProperty("vmlet.agentJar")),
        VmletPaths.fromEnvironment().cacheDir().resolve("images/micro-generic"), line -> System.out.println("[micro-generic] " + line));
  }

  static Path microImage() {
    return VmletPaths.fromEnvironment().cacheDir().resolve("images/micro");
  }

  /**
   * Stops this daemon without touching its VMs and starts a new one on the same directories.
   *
   * @param whileStopped runs when no daemon runs
   */
  TestDaemon restart(Runnable whileStopped) throws Exception {
    client.close();
    daemon.close();
    whileStopped.run();
    Daemon next = Daemon.start(paths, Qemu.BINARY);
    return new TestDaemon(paths, next, new DaemonClient(paths.socket()));
  }

  /** Deletes every VM this daemon has (a failed test must not leave a QEMU running), then stops it. */
  @Override
  public void close() throws Exception {
    try {
      for (var vm : client.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
          .listVms(ListVmsRequest.getDefaultInstance()).getVmsList()) {
        client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(
            DeleteVmRequest.newBuilder().setName(vm.getSpec().getName()).setForce(true).build());
      }
    } finally {
      client.close();
      daemon.close();
    }
  }
}
