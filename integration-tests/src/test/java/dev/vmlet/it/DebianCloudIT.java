package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.common.testing.SshAgent;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import dev.vmlet.config.VmletPaths;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.vm.SshProbe;
import io.grpc.StatusRuntimeException;
import java.io.File;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Map;
import java.util.Random;

/**
 * A real Debian 12 cloud image with real cloud-init under TCG: the agent arrives through the NoCloud
 * seed and the agent bundle, the user's cloud-config is merged (not replaced), SSH works with the
 * VM's own key, and a reboot brings the agent back without cloud-init installing it again. Launched
 * with the CLI as a user would, with credentials (systemd imports them), a proxy (apt and shells get
 * it) and a running ssh-agent (its key is authorized); `vmlet ssh-config` makes `ssh NAME.vmlet` work.
 */
class DebianCloudIT {
  @TempDir Path tmp;

  static final String USER_DATA = """
      #cloud-config
      write_files:
        - path: /root/from-user.txt
          content: "written by the user's cloud-config"
      runcmd:
        - echo user-runcmd > /root/user-runcmd.txt
      """;

  static final String CREDENTIAL = "hello-credential";
  static final byte[] BINARY = {0, 1, 2, (byte) 0xfe, (byte) 0xff, '\n'};
  /** Nothing listens there: the test checks that the guest was told, not that a proxy works. */
  static final String PROXY = "http://10.0.2.2:3128";

  /** Polls `cloud-init status` (each call short: an exec has a 60 s deadline) until it is not running. */
  static void awaitCloudInit(TestDaemon d, String name) throws Exception {
    String status = Poll.forValue("cloud-init in " + name + " to finish", Duration.ofSeconds(400), () -> {
      String s = Guests.sh(d.client, name, "cloud-init status").strip();
      return s.contains("running") || s.contains("not started") ? null : s;
    });
    assertThat(status).isEqualTo("status: done");
  }

  @Test
  void debianImage_getsTheAgentThroughCloudInit_keepsTheUsersUserData_andSurvivesAReboot() throws Exception {
    assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"),
        "building the Debian image needs root (mmdebstrap)");
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    long t0 = System.nanoTime();
    ImageBuilder.build(ImageBuilder.DEBIAN, null, cache.resolve("images/debian"), l -> System.out.println("[debian] " + l));
    ImageBuilder.build(ImageBuilder.AGENT_BUNDLE, Path.of(System.getProperty("vmlet.agentJar")),
        cache.resolve("images/agent-bundle"), l -> System.out.println("[bundle] " + l));
    System.out.printf("debian image and agent bundle ready in %d s%n", (System.nanoTime() - t0) / 1_000_000_000L);
    String name = "it-debian";
    Path userData = Files.writeString(tmp.resolve("user-data.yaml"), USER_DATA);
    Path blob = Files.write(tmp.resolve("blob.bin"), BINARY);
    try (TestDaemon d = TestDaemon.start(tmp); SshAgent agent = SshAgent.start(tmp.resolve("ssh-agent"))) {
      String agentKey = agent.addNewKey("vmlet-it-agent");
      // Launched as a user does, with a running ssh-agent whose key vmlet launch authorizes too.
      Guests.Result launch = vmlet(d, Map.of("SSH_AUTH_SOCK", agent.socket.toString()), "launch", "--name", name, "--image", "debian",
          "--cpus", "2", "--memory", "1024", "--cloud-init", userData.toString(), "--credential", "it.text=" + CREDENTIAL,
          "--credential-file", "it.bin=" + blob, "--http-proxy", PROXY, "--no-wait");
      assertThat(launch.exitCode()).as(launch.stdout() + launch.stderr()).isZero();
      Vm created = d.client.vms().getVm(VmRef.newBuilder().setName(name).build());
      assertThat(created.getSpec().getDisks(0).getName()).isEqualTo("root");
      assertThat(created.getSpec().getCloudInit().getSshAuthorizedKey()).isEqualTo(agentKey);
      // Right after the launch the guest's sshd is not up: vmlet ssh waits for it, saying so,
      // instead of handing over ssh's bare "Connection reset by peer".
      Guests.Result sshAtOnce = vmletSsh(d, name, "cat", "/etc/hostname");
      System.out.println("vmlet ssh right after the launch:\n" + sshAtOnce.stderr());
      assertThat(sshAtOnce.exitCode()).as(sshAtOnce.stderr()).isZero();
      assertThat(sshAtOnce.stdout()).isEqualTo(name + "\n");
      assertThat(sshAtOnce.stderr()).contains("Waiting up to 600 s for the SSH server of VM '" + name + "'", "SSH is up after");
      Vm ready = d.client.vms().withDeadlineAfter(500, TimeUnit.SECONDS)
          .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(480).build());
      System.out.printf("debian phone-home: %.1f s after QEMU start%n", (ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs()) / 1000.0);
      assertThat(ready.getGuest().getHostname()).isEqualTo(name);

      // The user's part ran, and so did vmlet's: they were merged, not one replacing the other.
      assertThat(Guests.sh(d.client, name, "cat /root/from-user.txt")).isEqualTo("written by the user's cloud-config");
      awaitCloudInit(d, name);
      assertThat(Guests.sh(d.client, name, "cat /root/user-runcmd.txt")).isEqualTo("user-runcmd\n");
      assertThat(Guests.sh(d.client, name, "cat /etc/vmlet/instance-id")).isEqualTo(created.getInstanceId() + "\n");
      // The agent runs as the systemd unit, and cloud-init's own schema check accepts the whole user-data.
      assertThat(Guests.sh(d.client, name, "systemctl is-active vmlet-agent; systemctl is-enabled vmlet-agent"))
          .isEqualTo("active\nenabled\n");
      Guests.Result schema = Guests.exec(d.client, name, "cloud-init", "schema", "--system");
      assertThat(schema.exitCode()).as(schema.stdout() + schema.stderr()).isZero();
      Guests.Result status = Guests.exec(d.client, name, "cloud-init", "status", "--long");
      assertThat(status.stdout()).as(status.stdout()).contains("status: done");
      assertThat(Guests.exec(d.client, name, "sh", "-c", "echo out; echo err >&2; exit 4"))
          .isEqualTo(new Guests.Result("out\n", "err\n", 4));

      // systemd (252) imported the SMBIOS credentials at boot; the agent hands them to its programs.
      System.out.println("systemd-creds --system list:\n" + Guests.sh(d.client, name, "systemd-creds --system list 2>&1"));
      assertThat(Guests.sh(d.client, name, "cat /run/credentials/@system/it.text")).isEqualTo(CREDENTIAL);
      assertThat(Guests.sh(d.client, name, "od -An -tx1 /run/credentials/@system/it.bin | tr -d ' \\n'"))
          .isEqualTo(HexFormat.of().formatHex(BINARY));
      assertThat(Guests.sh(d.client, name, "cat \"$CREDENTIALS_DIRECTORY/it.text\"")).isEqualTo(CREDENTIAL);
      // The proxy: cloud-init gave it to apt; login shells get it from /etc/environment; the agent's programs from the agent.
      assertThat(Guests.sh(d.client, name, "apt-config dump | grep -i '^Acquire::http::Proxy '"))
          .isEqualTo("Acquire::http::Proxy \"" + PROXY + "\";\n");
      assertThat(Guests.sh(d.client, name, "grep -c '^https_proxy=" + PROXY + "$' /etc/environment")).isEqualTo("1\n");
      assertThat(Guests.sh(d.client, name, "echo $http_proxy")).isEqualTo(PROXY + "\n");

      // A file in and out through the agent, digests checked on both ends.
      byte[] data = new byte[8 << 20];
      new Random(5).nextBytes(data);
      String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
      assertThat(Guests.push(d.client, name, "/root/pushed.bin", data, sha, false).getSha256()).isEqualTo(sha);
      assertThat(Guests.sh(d.client, name, "sha256sum /root/pushed.bin | cut -d' ' -f1").strip()).isEqualTo(sha);
      Guests.Pulled pulled = Guests.pull(d.client, name, "/root/pushed.bin");
      assertThat(pulled.data()).isEqualTo(data);
      assertThat(pulled.done().getSha256()).isEqualTo(sha);

      Vm info = d.client.vms().getVm(VmRef.newBuilder().setName(name).build());
      assertThat(info.getSshUser()).isEqualTo("vmlet");
      Process ssh = new ProcessBuilder(List.of("ssh", "-i", info.getSshIdentityFile(), "-p", Integer.toString(info.getSshPort()),
          "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30",
          "vmlet@" + info.getSshHost(), "true")).redirectErrorStream(true).start();
      String sshOut = new String(ssh.getInputStream().readAllBytes());
      assertThat(ssh.waitFor(90, TimeUnit.SECONDS)).isTrue();
      assertThat(ssh.exitValue()).as("ssh: " + sshOut).isZero();
      // vmlet ssh-config, then plain ssh NAME.vmlet through an Include; the guest's host key is remembered per instance.
      Path include = tmp.resolve("home/.ssh/config.d/vmlet");
      Guests.Result written = vmlet(d, Map.of(), "ssh-config", "--file", include.toString());
      assertThat(written.stdout()).as(written.stderr()).contains("Wrote " + include + ": 1 host (ssh NAME.vmlet)");
      Path userConfig = Files.writeString(tmp.resolve("ssh_config"), "Include " + include + "\n");
      Guests.Result plain = ssh(List.of("-F", userConfig.toString(), name + ".vmlet", "cat", "/etc/hostname"), Map.of());
      assertThat(plain.stdout()).as(plain.stderr()).isEqualTo(name + "\n");
      assertThat(plain.exitCode()).isZero();
      assertThat(Files.readString(include.resolveSibling("vmlet.known_hosts"))).startsWith(created.getInstanceId() + ".vmlet ssh-");
      // The second time the remembered key is checked, without a word.
      assertThat(ssh(List.of("-F", userConfig.toString(), name + ".vmlet", "true"), Map.of())).isEqualTo(new Guests.Result("", "", 0));
      // The ssh-agent's key alone (no vmlet key offered) logs in too.
      Guests.Result byAgent = ssh(List.of("-F", "/dev/null", "-o", "IdentityAgent=" + agent.socket, "-o", "StrictHostKeyChecking=no",
          "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentityFile=/nonexistent", "-p", Integer.toString(info.getSshPort()),
          "vmlet@" + info.getSshHost(), "true"), Map.of());
      assertThat(byAgent.exitCode()).as(byAgent.stderr()).isZero();

      // What the daemon reports for a VM whose agent never phoned home, asked of this one.
      assertThat(SshProbe.cloudInitStatus(info.getSshHost(), info.getSshPort(), Path.of(info.getSshIdentityFile())))
          .contains("status: done");
      System.out.printf("debian timeline: kernel console %.1f s, agent %.1f s, cloud-init done %.1f s, SSH ready %.1f s%n",
          (info.getConsoleFirstOutputUnixMs() - info.getStartedAtUnixMs()) / 1000.0,
          (info.getAgentReadyAtUnixMs() - info.getStartedAtUnixMs()) / 1000.0,
          (info.getCloudInitDoneUnixMs() - info.getStartedAtUnixMs()) / 1000.0,
          (info.getSshReadyUnixMs() - info.getStartedAtUnixMs()) / 1000.0);
      assertThat(info.getConsoleFirstOutputUnixMs()).isBetween(info.getStartedAtUnixMs(), info.getAgentReadyAtUnixMs());
      assertThat(info.getCloudInitDoneUnixMs()).isPositive();
      assertThat(info.getSshReadyUnixMs()).isPositive();

      // A reboot: systemd starts the installed agent; cloud-init does not install it again.
      String installed = Guests.sh(d.client, name, "cat /opt/vmlet-agent/installed-at");
      String bootId = Guests.sh(d.client, name, "cat /proc/sys/kernel/random/boot_id");
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).rebootVm(VmRef.newBuilder().setName(name).build());
      Poll.until("the agent of " + name + " to answer from a new boot", Duration.ofSeconds(400), () -> {
        try {
          return !Guests.sh(d.client, name, "cat /proc/sys/kernel/random/boot_id").equals(bootId);
        } catch (StatusRuntimeException e) {
          return false; // the agent is away while the guest reboots
        }
      });
      assertThat(Guests.sh(d.client, name, "cat /opt/vmlet-agent/installed-at")).isEqualTo(installed);

      Vm stopped = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).setTimeoutSeconds(60).build());
      assertThat(stopped.getState()).isEqualTo(VmState.STOPPED);
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).build());
      assertThat(d.paths.vmStateDir(name)).doesNotExist();
    }
  }

  /**
   * A cloud image the user brings, booted through its own bootloader by the firmware: here the
   * Debian image's root file system and kernel repackaged as a partitioned disk with SYSLINUX
   * (bootable-disk.sh), launched by path. cloud-init in it installs the agent, which phones home.
   */
  @Test
  void aDiskImageWithItsOwnBootloader_launchedByPath_getsTheAgentThroughCloudInit() throws Exception {
    assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"),
        "building the Debian image needs root (mmdebstrap)");
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    Path debian = cache.resolve("images/debian");
    ImageBuilder.build(ImageBuilder.DEBIAN, null, debian, l -> System.out.println("[debian] " + l));
    TestDaemon.agentBundle();
    Path script = tmp.resolve("bootable-disk.sh");
    try (var in = DebianCloudIT.class.getResourceAsStream("bootable-disk.sh")) {
      Files.copy(in, script);
    }
    Path image = tmp.resolve("users-cloud-image.qcow2");
    Process make = new ProcessBuilder("bash", script.toString(), debian.resolve("root.qcow2").toString(),
        debian.resolve("vmlinuz").toString(), debian.resolve("initrd.img").toString(), image.toString())
        .redirectErrorStream(true).start();
    String makeOut = new String(make.getInputStream().readAllBytes());
    assertThat(make.waitFor()).as(makeOut).isZero();
    String name = "it-byo";
    try (TestDaemon d = TestDaemon.start(tmp.resolve("byo"))) {
      Vm created = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName(name).setImage(image.toString()).setVcpus(2).setMemoryMib(1024))
          .setStart(true).build());
      assertThat(created.getQemuCommand()).doesNotContain("-kernel");
      Vm ready = d.client.vms().withDeadlineAfter(500, TimeUnit.SECONDS)
          .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(480).build());
      System.out.printf("user's disk image (SYSLINUX) phone-home: %.1f s after QEMU start%n",
          (ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs()) / 1000.0);
      // Booted by its own bootloader: the command line is SYSLINUX's, not one vmlet passed.
      assertThat(Guests.sh(d.client, name, "cat /proc/cmdline")).contains("root=LABEL=vmlet-root").doesNotContain("vmlet.instance_id");
      assertThat(Guests.sh(d.client, name, "systemctl is-active vmlet-agent")).isEqualTo("active\n");
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    }
  }

  /** `vmlet ssh` as a user runs it: its own process, stdin closed (ssh would read the test JVM's). */
  private static Guests.Result vmletSsh(TestDaemon d, String name, String... command) throws Exception {
    List<String> args = new ArrayList<>(List.of("ssh", "--wait", "600", name, "--"));
    args.addAll(List.of(command));
    return vmlet(d, Map.of(), args.toArray(String[]::new));
  }

  /** The vmlet CLI in its own process against the test's daemon, with these extra environment variables. */
  private static Guests.Result vmlet(TestDaemon d, Map<String, String> env, String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "dev.vmlet.cli.Main", args[0], "--socket=" + d.paths.socket()));
    argv.addAll(List.of(args).subList(1, args.length));
    return run(argv, env);
  }

  /** The real ssh client, batch mode (no prompts), bounded. */
  private static Guests.Result ssh(List<String> args, Map<String, String> env) throws Exception {
    List<String> argv = new ArrayList<>(List.of("ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"));
    argv.addAll(args);
    return run(argv, env);
  }

  private static Guests.Result run(List<String> argv, Map<String, String> env) throws Exception {
    Path out = Files.createTempFile("vmlet-it", ".out");
    Path err = Files.createTempFile("vmlet-it", ".err");
    ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().remove("SSH_AUTH_SOCK");
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(12, TimeUnit.MINUTES)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    Guests.Result r = new Guests.Result(Files.readString(out), Files.readString(err), p.isAlive() ? -1 : p.exitValue());
    Files.delete(out);
    Files.delete(err);
    return r;
  }
}
