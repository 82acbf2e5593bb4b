package dev.vmlet.it;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

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
    d.client.vms().withDeadlineAfter(500, TimeUnit.SECONDS)
        .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(480).build());
    return new DebianVm(d, name);
  }

  public static String sha(byte[] data) throws Exception {
    return Guests.sha(data);
  }
}
