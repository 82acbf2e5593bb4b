package dev.vmlet.it;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.ListFilesRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;

/** What benchmarks outside this package need of the test daemon and guests. */
public final class BenchSupport {
  private BenchSupport() {}

  /** A running Debian guest with vmlet's agent (and qemu-guest-agent), deleted on close. */
  public static final class DebianVm implements AutoCloseable {
    private final TestDaemon d;
    private final String name;

    private DebianVm(TestDaemon d, String name) {
      this.d = d;
      this.name = name;
    }

    /** Runs a program; its exit code. */
    public int exec(String... argv) {
      return Guests.exec(d.client, name, argv).exitCode();
    }

    public String sh(String line) {
      return Guests.sh(d.client, name, line);
    }

    public FileTransferResult push(String path, byte[] data) throws Exception {
      return Guests.push(d.client, name, path, data, null, false);
    }

    public byte[] pull(String path) throws Exception {
      return Guests.pull(d.client, name, path).data();
    }

    /** ListFiles of a guest directory: a round trip through the daemon and the agent that starts no program. */
    public int listFiles(String path) {
      return d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
          .listFiles(ListFilesRequest.newBuilder().setName(name).setPath(path).build()).getEntriesCount();
    }

    /** The VM as GetVm reports it (SSH host, port, user and key among it). */
    public Vm info() {
      return d.client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
    }

    /** Waits up to 300 s for the boot timeline (console, SSH, cloud-init done) and returns the VM then. */
    public Vm awaitBootTimeline() throws Exception {
      return Poll.forValue("the boot timeline of " + name + " (console, SSH, cloud-init done)", Duration.ofSeconds(300), () -> {
        Vm vm = info();
        return vm.getCloudInitDoneUnixMs() != 0 && vm.getSshReadyUnixMs() != 0 && vm.getConsoleFirstOutputUnixMs() != 0 ? vm : null;
      });
    }

    /** The daemon's unix socket, for clients in other processes (the CLI). */
    public Path socket() {
      return d.paths.socket();
    }

    public Path qgaSocket() {
      return d.paths.vmRunDir(name).resolve("qga.sock");
    }

    @Override
    public void close() throws Exception {
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
      d.close();
    }
  }

  public static DebianVm debianVm(Path dir, String name) throws Exception {
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    ImageBuilder.build(ImageBuilder.DEBIAN, null, cache.resolve("images/debian"), l -> System.out.println("[debian] " + l));
    TestDaemon.agentBundle();
    TestDaemon d = TestDaemon.start(dir);
    d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setImage("debian").setVcpus(2).setMemoryMib(2048)).setStart(true).build());
    // Generous: on a loaded 2-core host the first boot took 444 s to install the agent (load 29).
    d.client.vms().withDeadlineAfter(920, TimeUnit.SECONDS)
        .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(900).build());
    return new DebianVm(d, name);
  }

  /** A daemon process (its memory is its own) with micro VMs; VMs and daemon go on close. */
  public static final class MicroNode implements AutoCloseable {
    private final DaemonProcess daemon;
    public final DaemonClient client;

    private MicroNode(DaemonProcess daemon) {
      this.daemon = daemon;
      this.client = daemon.client();
    }

    public long daemonPid() {
      return daemon.pid();
    }

    /** The VM's state directory (its console log). */
    public Path vmStateDir(String name) {
      return daemon.paths.vmStateDir(name);
    }

    /** The daemon's unix socket, for clients in other processes (the CLI). */
    public Path socket() {
      return daemon.paths.socket();
    }

    /** Creates and starts a micro VM and waits for its agent; returns the VM then. */
    public Vm start(String name, int memoryMib) {
      return start(VmSpec.newBuilder().setName(name).setMemoryMib(memoryMib).build());
    }

    /** Creates and starts a VM of this spec and waits for its agent; returns the VM then. */
    public Vm start(VmSpec spec) {
      create(spec, "");
      return waitReady(spec.getName());
    }

    /** Creates and starts a clone of {@code template} and waits for its agent; returns the VM then. */
    public Vm clone(String name, String template) {
      create(VmSpec.newBuilder().setName(name).build(), template);
      return waitReady(name);
    }

    /** Creates and starts a VM of this spec, a clone of {@code template} unless it is empty; does not wait for its agent. */
    public void create(VmSpec spec, String template) {
      client.vms().withDeadlineAfter(180, TimeUnit.SECONDS)
          .createVm(CreateVmRequest.newBuilder().setSpec(spec).setTemplate(template).setStart(true).build());
    }

    /** CreateTemplate of this request (name, vm and flags), allowed ten minutes. */
    public Template saveTemplate(CreateTemplateRequest.Builder request) {
      return client.vms().withDeadlineAfter(10, TimeUnit.MINUTES).createTemplate(request.build());
    }

    /** Waits for the VM's agent (and prints how long after QEMU's start it phoned home). */
    public Vm waitReady(String name) {
      return Guests.waitReady(client, name);
    }

    public String sh(String vm, String line) {
      return Guests.sh(client, vm, line);
    }

    /** Runs a program (no shell); its exit code. */
    public int exec(String vm, String... argv) {
      return Guests.exec(client, vm, argv).exitCode();
    }

    /** ListFiles of a guest directory: a round trip through the daemon and the agent that starts no program. */
    public int listFiles(String vm, String path) {
      return client.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
          .listFiles(ListFilesRequest.newBuilder().setName(vm).setPath(path).build()).getEntriesCount();
    }

    public FileTransferResult push(String vm, String path, byte[] data) throws Exception {
      return Guests.push(client, vm, path, data, null, false);
    }

    public byte[] pull(String vm, String path) throws Exception {
      return Guests.pull(client, vm, path).data();
    }

    @Override
    public void close() throws Exception {
      try {
        for (var vm : client.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
            .listVms(ListVmsRequest.getDefaultInstance()).getVmsList()) {
          client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(vm.getSpec().getName())
              .setForce(true).build());
        }
      } finally {
        client.close();
        daemon.destroy();
      }
    }
  }

  /** Builds the micro-generic image (micro on Debian's generic kernel, with 9p) when it is stale. */
  public static void buildMicroGeneric() throws Exception {
    TestDaemon.microGeneric();
  }

  /** The {@code ./vmlet} launcher of this checkout, run as a user types it. */
  public static final String LAUNCHER = Path.of("..", "vmlet").toAbsolutePath().normalize().toString();

  /**
   * Runs {@code ./vmlet ARGS} with its defaults against the daemon at {@code socket} (only
   * VMLET_SOCKET set) and returns its wall time in seconds; fails when it exits non-zero.
   */
  public static double typed(Path socket, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(LAUNCHER));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.INHERIT);
    pb.environment().put("VMLET_SOCKET", socket.toString());
    pb.environment().remove("VMLET_NODE");
    long t0 = System.nanoTime();
    int rc = pb.start().waitFor();
    double seconds = (System.nanoTime() - t0) / 1e9;
    if (rc != 0) {
      throw new AssertionError(String.join(" ", cmd) + " exited " + rc);
    }
    return seconds;
  }

  /** A daemon process for Debian VMs: the Debian image and the agent bundle built first when stale. */
  public static MicroNode debianNode(Path dir) throws Exception {
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    ImageBuilder.build(ImageBuilder.DEBIAN, null, cache.resolve("images/debian"), l -> System.out.println("[debian] " + l));
    TestDaemon.agentBundle();
    return microNode(dir);
  }

  public static MicroNode microNode(Path dir) throws Exception {
    DaemonProcess d = new DaemonProcess(dir);
    d.start();
    return new MicroNode(d);
  }

  /** A field of /proc/PID/smaps_rollup ("Rss:", "Pss:", "Private_Dirty:" ...), in KiB. */
  public static long smapsRollupKiB(long pid, String field) throws Exception {
    for (String l : java.nio.file.Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
      if (l.startsWith(field)) {
        return Long.parseLong(l.substring(field.length()).replaceAll("[^0-9]", ""));
      }
    }
    throw new AssertionError(field + " not in /proc/" + pid + "/smaps_rollup");
  }

  public static String sha(byte[] data) throws Exception {
    return Guests.sha(data);
  }
}
