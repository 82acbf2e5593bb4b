package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.proto.v1.VmRef;

/**
 * The daemon as a fresh non-root user (no capabilities, in group kvm where the host has one) boots
 * the micro VM with user-mode networking: nothing in the default path needs root.
 */
class NonRootDaemonIT {
  @TempDir Path tmp;

  static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  static String uidOf(long pid) throws Exception {
    return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("Uid:")).findFirst().orElseThrow()
        .split("\\s+")[1];
  }

  @Test
  void aNonRootDaemon_bootsTheMicroVm() throws Exception {
    Qemu.assumeInstalled();
    assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"), "making a user needs root");
    TestDaemon.start(tmp.resolve("builder")).close(); // the micro image, built (as root) into the shared cache if stale
    String user = "vmlet-it-" + ProcessHandle.current().pid();
    List<String> add = new ArrayList<>(List.of("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"));
    if (run("getent", "group", "kvm") == 0) {
      add.addAll(List.of("--groups", "kvm"));
    }
    add.add(user);
    assertThat(run(add.toArray(String[]::new))).isZero();
    Process daemon = null;
    try {
      Path home = Files.createDirectories(tmp.resolve("home"));
      assertThat(run("chown", "-R", user, home.toString())).isZero();
      assertThat(run("chmod", "755", tmp.toString())).isZero();
      Path socket = home.resolve("run/vmlet.sock");
      Path daemonJar = Path.of("..", "host-daemon", "target", "vmlet.jar").toAbsolutePath().normalize();
      String java = ProcessHandle.current().info().command().orElse("java");
      daemon = new ProcessBuilder("runuser", "-u", user, "--", java, "-Dvmlet.agentJar=" + System.getProperty("vmlet.agentJar"),
          "-jar", daemonJar.toString(), "daemon", "--socket", socket.toString(), "--state-dir", home.resolve("state").toString(),
          "--run-dir", home.resolve("run").toString(), "--cache-dir", TestDaemon.microImage().getParent().getParent().toString())
          .redirectErrorStream(true).redirectOutput(tmp.resolve("daemon.log").toFile()).start();
      Process started = daemon;
      Poll.until("the daemon to listen on " + socket + " or exit", Duration.ofSeconds(60),
          () -> DaemonClient.isListening(socket) || !started.isAlive());
      assertThat(DaemonClient.isListening(socket)).as(Files.readString(tmp.resolve("daemon.log"))).isTrue();
      assertThat(uidOf(daemon.toHandle().descendants().filter(h -> h.info().command().orElse("").contains("java")).findFirst()
          .orElse(daemon.toHandle()).pid())).isNotEqualTo("0");
      try (DaemonClient c = new DaemonClient(socket)) {
        var vm = c.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName("unpriv").setMemoryMib(512)).setStart(true).build());
        assertThat(uidOf(vm.getPid())).isNotEqualTo("0"); // QEMU runs as that user too
        try {
          Guests.waitReady(c, "unpriv");
        } catch (RuntimeException e) {
          throw new AssertionError("the VM did not come up: " + c.vms().getVm(VmRef.newBuilder().setName("unpriv")
              .build()).getLastError() + "\ndaemon log:\n" + Files.readString(tmp.resolve("daemon.log")), e);
        }
        assertThat(Guests.sh(c, "unpriv", "echo up")).isEqualTo("up\n");
        System.out.println("micro VM under a non-root daemon (uid " + uidOf(vm.getPid()) + "): agent ready");
        c.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("unpriv").setForce(true).build());
      }
    } finally {
      if (daemon != null) {
        daemon.toHandle().descendants().forEach(ProcessHandle::destroy);
        daemon.destroy();
        daemon.waitFor(10, TimeUnit.SECONDS);
      }
      run("pkill", "-KILL", "-u", user);
      run("userdel", user);
    }
  }
}
