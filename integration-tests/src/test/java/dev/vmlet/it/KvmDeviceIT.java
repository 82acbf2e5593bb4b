package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.proto.v1.Capabilities;
import dev.vmlet.proto.v1.GetCapabilitiesRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What Swarm cannot do (give a service /dev/kvm, moby/swarmkit#1244) a single host can: the node
 * image run with {@code docker run --device /dev/kvm} and the stack's confinement (no capability,
 * no-new-privileges, read-only root), its local socket on a host directory. The KVM probe inside
 * must reach the device; whether KVM then runs a guest depends on the host (here it does not: the
 * device is root's alone, 0600, and nested KVM hangs), and the report says which.
 */
class KvmDeviceIT {
  @TempDir Path dir;

  @Test
  void theImageRunWithTheKvmDevice_probesTheDevice() throws Exception {
    Docker.assume(false);
    Path kvm = Path.of("/dev/kvm");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(kvm), "this host has no /dev/kvm to give the container");
    String image = Docker.nodeImage();
    // Host directories for the socket (the test connects to it) and the state, writable by uid 10001.
    Path run = Files.createDirectories(dir.resolve("run"));
    Path state = Files.createDirectories(dir.resolve("state"));
    for (Path d : new Path[] {run, state}) {
      Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxrwxrwx"));
    }
    String gid = Files.getAttribute(kvm, "unix:gid").toString();
    String name = "vmlet-kvm-it-" + UUID.randomUUID().toString().substring(0, 8);
    Docker.out("run", "-d", "--name", name, "--device", "/dev/kvm", "--group-add", gid, "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges", "--read-only", "--tmpfs", "/tmp",
        "--mount", "type=bind,src=" + state + ",dst=/var/lib/vmlet", "--mount", "type=bind,src=" + run + ",dst=/run/vmlet",
        "--mount", "type=bind,src=" + VmletPaths.fromEnvironment().cacheDir() + ",dst=/var/cache/vmlet,readonly", image);
    try (DaemonClient client = Poll.forValue("the daemon's socket in " + run, Duration.ofMinutes(3),
        () -> DaemonClient.isListening(run.resolve("vmlet.sock")) ? new DaemonClient(run.resolve("vmlet.sock")) : null)) {
      Capabilities c = client.node().withDeadlineAfter(2, TimeUnit.MINUTES).getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
      System.out.println("docker run --device /dev/kvm: SecurityOpt=" + Docker.inspect(name, ".HostConfig.SecurityOpt")
          + " CapDrop=" + Docker.inspect(name, ".HostConfig.CapDrop") + " ReadonlyRootfs=" + Docker.inspect(name, ".HostConfig.ReadonlyRootfs")
          + " Devices=" + Docker.inspect(name, ".HostConfig.Devices"));
      System.out.println("KVM in the container: present=" + c.getKvmPresent() + ", works=" + c.getKvmWorks() + ": " + c.getAccelReason());
      assertThat(c.getKvmPresent()).isTrue();
      assertThat(c.getAccelReason()).doesNotContain("does not exist").containsAnyOf("KVM probe", "not read/writable");
    } finally {
      Docker.Result logs = Docker.run(java.util.Map.of(), Docker.CALL, "logs", "--tail", "5", name);
      System.out.println("the container's last lines:\n" + logs.stdout() + logs.stderr());
      Docker.out("rm", "-f", "-v", name); // -v: and the anonymous volumes of the image's VOLUME lines
    }
  }
}
