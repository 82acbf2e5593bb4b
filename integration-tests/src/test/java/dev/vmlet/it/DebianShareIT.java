package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.Share;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A share in the Debian cloud image: cloud-init's bootcmd mounts it (the cloud kernel's virtiofs module). */
class DebianShareIT {
  @TempDir Path tmp;

  @Test
  void debianImage_mountsItsSharesThroughCloudInit_readWriteAndReadOnly() throws Exception {
    assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"),
        "building the Debian image needs root (mmdebstrap), and virtiofsd a root daemon");
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    ImageBuilder.build(ImageBuilder.DEBIAN, null, cache.resolve("images/debian"), l -> System.out.println("[debian] " + l));
    ImageBuilder.build(ImageBuilder.AGENT_BUNDLE, Path.of(System.getProperty("vmlet.agentJar")),
        cache.resolve("images/agent-bundle"), l -> System.out.println("[bundle] " + l));
    Path rw = Files.createDirectories(tmp.resolve("work"));
    Path ro = Files.createDirectories(tmp.resolve("inputs"));
    Files.writeString(rw.resolve("from-host.txt"), "written on the host\n");
    Files.writeString(ro.resolve("input.txt"), "read-only input\n");
    String name = "it-debian-share";
    try (TestDaemon d = TestDaemon.start(tmp.resolve("daemon"))) {
      d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName(name).setImage("debian").setVcpus(2).setMemoryMib(1024)
              .addShares(Share.newBuilder().setHostPath(rw.toString()).setGuestPath("/srv/work"))
              .addShares(Share.newBuilder().setHostPath(ro.toString()).setGuestPath("/srv/inputs").setReadOnly(true)))
          .setStart(true).build());
      d.client.vms().withDeadlineAfter(500, TimeUnit.SECONDS)
          .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(480).build());
      // bootcmd mounts the shares right after it installs the agent, which may already answer.
      String seen = Poll.forValue("the share mounted in " + name, Duration.ofSeconds(120), () -> {
        Guests.Result r = Guests.exec(d.client, name, "cat", "/srv/work/from-host.txt");
        return r.exitCode() == 0 ? r.stdout() : null;
      });
      assertThat(seen).isEqualTo("written on the host\n");
      assertThat(Guests.exec(d.client, name, "sh", "-c", "echo from debian > /srv/work/from-guest.txt").exitCode()).isZero();
      assertThat(Files.readString(rw.resolve("from-guest.txt"))).isEqualTo("from debian\n");
      Guests.Result mounts = Guests.exec(d.client, name, "findmnt", "-n", "-o", "FSTYPE,OPTIONS", "/srv/inputs");
      assertThat(mounts.stdout()).startsWith("virtiofs ro");
      assertThat(Guests.exec(d.client, name, "cat", "/srv/inputs/input.txt").stdout()).isEqualTo("read-only input\n");
      Guests.Result refused = Guests.exec(d.client, name, "sh", "-c", "echo x > /srv/inputs/new.txt");
      assertThat(refused.exitCode()).isNotZero();
      assertThat(refused.stderr()).contains("Read-only file system");
      d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    }
  }
}
