package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.TemplateRef;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A template of the real Debian 12 cloud image (cloud-init done, sshd running) under TCG, and two
 * clones resumed from it side by side: each its own hostname, instance id, MAC, SSH host keys (made
 * anew by the agent, served by the clone's sshd through its own port forward) and root disk; a
 * clone's next start boots as itself.
 */
class DebianTemplateIT {
  @TempDir Path tmp;

  private static String sh(TestDaemon d, String vm, String line) {
    return Guests.sh(d.client, vm, line).strip();
  }

  /** The guest's ed25519 host public key (the base64 field). */
  private static String hostKey(TestDaemon d, String vm) {
    return sh(d, vm, "cut -d' ' -f2 /etc/ssh/ssh_host_ed25519_key.pub");
  }

  /** The ed25519 host key the VM's sshd serves through its SSH port forward (the base64 field), or null. */
  private static String servedHostKey(Vm info) throws Exception {
    Process p = new ProcessBuilder("ssh-keyscan", "-T", "20", "-t", "ed25519", "-p", Integer.toString(info.getSshPort()),
        info.getSshHost()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return null;
    }
    return out.lines().filter(l -> l.contains(" ssh-ed25519 ")).map(l -> l.split(" ")[2]).findFirst().orElse(null);
  }

  @Test
  void debianTemplate_givesClonesTheirOwnIdentitySshHostKeysAndDisks() throws Exception {
    assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"),
        "building the Debian image needs root (mmdebstrap)");
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    ImageBuilder.build(ImageBuilder.DEBIAN, null, cache.resolve("images/debian"), l -> System.out.println("[debian] " + l));
    TestDaemon.agentBundle();
    try (TestDaemon d = TestDaemon.start(tmp)) {
      long t0 = System.nanoTime();
      Vm source = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName("deb-src").setImage("debian").setVcpus(2).setMemoryMib(1024)).setStart(true).build());
      d.client.vms().withDeadlineAfter(620, TimeUnit.SECONDS)
          .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName("deb-src").setTimeoutSeconds(600).build());
      assertThat(Guests.exec(d.client, "deb-src", "true").exitCode()).isZero();
      System.out.printf("boot deb-src: create to exec answered in %d ms%n", (System.nanoTime() - t0) / 1_000_000);
      // A template holds a guest whose first-boot setup is done: the daemon waits for cloud-init to say so.
      DebianCloudIT.awaitCloudInit(d, "deb-src");
      Poll.until("the daemon to see cloud-init done in deb-src", Duration.ofSeconds(120),
          () -> d.client.vms().getVm(VmRef.newBuilder().setName("deb-src").build()).getCloudInitDoneUnixMs() > 0);
      sh(d, "deb-src", "echo from-template > /root/marker; sync");
      String templateKey = hostKey(d, "deb-src");
      assertThat(servedHostKey(d.client.vms().getVm(VmRef.newBuilder().setName("deb-src").build()))).isEqualTo(templateKey);

      long t1 = System.nanoTime();
      Template t = d.client.vms().withDeadlineAfter(900, TimeUnit.SECONDS)
          .createTemplate(CreateTemplateRequest.newBuilder().setName("deb-tpl").setVm("deb-src").build());
      System.out.printf("template deb-tpl made in %d ms: state %d bytes, %d bytes in all%n", (System.nanoTime() - t1) / 1_000_000,
          t.getStateBytes(), t.getSizeBytes());
      assertThat(t.getImage()).isEqualTo("debian");
      assertThat(t.getGuest().getHostname()).isEqualTo("deb-src");
      Path dir = d.paths.stateDir().resolve("templates/deb-tpl");
      try (var files = Files.list(dir)) {
        assertThat(files.map(f -> f.getFileName().toString()))
            .containsExactlyInAnyOrder("boot", "disks", "memory", "ssh", "state.bin", "template.json");
      }
      assertThat(Files.getPosixFilePermissions(dir.resolve("disks/root.qcow2"))).as("the frozen root disk is read-only")
          .doesNotContain(java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);
      // The source runs on, on its own disk.
      assertThat(sh(d, "deb-src", "cat /root/marker")).isEqualTo("from-template");

      List<Vm> clones = new ArrayList<>();
      for (String name : List.of("deb-a", "deb-b")) {
        long c0 = System.nanoTime();
        d.client.vms().withDeadlineAfter(300, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName(name)).setTemplate("deb-tpl").setStart(true).build());
        Vm ready = d.client.vms().withDeadlineAfter(320, TimeUnit.SECONDS)
            .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(300).build());
        assertThat(Guests.exec(d.client, name, "true").exitCode()).isZero();
        System.out.printf("clone of deb-tpl %s: create to exec answered in %d ms (agent ready %d ms after QEMU start)%n", name,
            (System.nanoTime() - c0) / 1_000_000, ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs());
        clones.add(ready);
      }

      Set<String> keys = new HashSet<>(List.of(templateKey));
      for (Vm c : clones) {
        String name = c.getSpec().getName();
        assertThat(c.getInstanceId()).isNotEqualTo(source.getInstanceId());
        assertThat(c.getQemuCommand()).contains("-incoming defer", "share=off");
        assertThat(c.getGuest().getHostname()).isEqualTo(name);
        assertThat(sh(d, name, "hostname")).isEqualTo(name);
        assertThat(sh(d, name, "cat /root/marker")).isEqualTo("from-template");
        String identity = sh(d, name, "cat /sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/identity/raw");
        assertThat(identity).contains("instance_id=" + c.getInstanceId());
        String mac = identity.lines().filter(l -> l.startsWith("mac=")).findFirst().orElseThrow().substring(4);
        assertThat(sh(d, name, "cat /sys/class/net/*/address")).contains(mac);
        // An agent restarted in the clone starts as the clone: cloud-init's file names it now.
        assertThat(sh(d, name, "cat /etc/vmlet/instance-id")).isEqualTo(c.getInstanceId());
        long guestSecs = Long.parseLong(sh(d, name, "date +%s"));
        assertThat(Math.abs(guestSecs - System.currentTimeMillis() / 1000)).isLessThan(15);
        // New SSH host keys, made by the agent after its proof, and served by the clone's sshd through its own port
        // forward (so the guest's network works after the resume with its new MAC).
        Vm info = d.client.vms().getVm(VmRef.newBuilder().setName(name).build());
        String served = Poll.forValue("the sshd of " + name + " to serve a host key of its own", Duration.ofSeconds(180), () -> {
          String k = servedHostKey(info);
          return k != null && !k.equals(templateKey) ? k : null;
        });
        // Where the guest's part of the clone's start went, as its agent logged it (to the journal, in Debian).
        System.out.println(name + " guest:\n" + sh(d, name, "journalctl -u vmlet-agent --no-pager -o cat"
            + " | grep -E 'new VM|Welcome read|SSH host keys'"));
        assertThat(hostKey(d, name)).isEqualTo(served);
        assertThat(keys.add(served)).as("a host key no other clone or the template has").isTrue();
        System.out.println(name + " network: " + sh(d, name, "ip -4 -o addr show scope global"));
        assertThat(sh(d, name, "ip -4 -o addr show scope global")).contains("inet ");
        // vmlet's SSH key: the one the template's guest authorized, copied for the clone. sshd re-reads the
        // keys for each connection, so the new key is served before the agent's reload of sshd, which
        // resets connections while sshd re-executes itself: log in once the agent says the reload was
        // sent, and again after a reset (the reload's signal is asynchronous).
        Poll.until("the agent of " + name + " to have reloaded sshd", Duration.ofSeconds(180),
            () -> sh(d, name, "journalctl -u vmlet-agent --no-pager -o cat").contains("SSH host keys of this clone made anew"));
        String[] sshOut = new String[1];
        int exit = Poll.forValue("an SSH login to " + name, Duration.ofSeconds(90), () -> {
          Process ssh = new ProcessBuilder(List.of("ssh", "-i", info.getSshIdentityFile(), "-p", Integer.toString(info.getSshPort()),
              "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30",
              "vmlet@" + info.getSshHost(), "hostname")).redirectErrorStream(true).start();
          sshOut[0] = new String(ssh.getInputStream().readAllBytes());
          assertThat(ssh.waitFor(90, TimeUnit.SECONDS)).isTrue();
          boolean reset = ssh.exitValue() == 255 && sshOut[0].contains("Connection reset");
          return reset ? null : ssh.exitValue();
        });
        assertThat(exit).as("ssh: " + sshOut[0]).isZero();
        assertThat(sshOut[0]).contains(name);
      }
      assertThat(clones.get(0).getInstanceId()).isNotEqualTo(clones.get(1).getInstanceId());

      // Each clone its own root disk: what one writes the other and the source never see.
      sh(d, "deb-a", "echo only-a > /root/a; sync");
      assertThat(sh(d, "deb-b", "cat /root/a 2>&1 || echo missing")).endsWith("missing");
      assertThat(sh(d, "deb-src", "cat /root/a 2>&1 || echo missing")).endsWith("missing");
      // cp in and out of a clone.
      byte[] data = new byte[2 << 20];
      new Random(17).nextBytes(data);
      String sha = Guests.sha(data);
      assertThat(Guests.push(d.client, "deb-b", "/root/pushed.bin", data, null, false).getSha256()).isEqualTo(sha);
      assertThat(Guests.pull(d.client, "deb-b", "/root/pushed.bin").data()).isEqualTo(data);

      // Bad input: a clone of another size, a template in use; neither leaves anything.
      assertThatThrownBy(() -> d.client.vms().createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName("deb-big").setMemoryMib(2048)).setTemplate("deb-tpl").setStart(true).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains("1024 MiB");
          });
      assertThat(Files.exists(d.paths.vmStateDir("deb-big"))).isFalse();
      assertThatThrownBy(() -> d.client.vms().deleteTemplate(TemplateRef.newBuilder().setName("deb-tpl").build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains("deb-a", "deb-b");
          });

      // A clone's next start boots, from its own disk and the template's kernel; cloud-init sees the clone's instance id
      // (its seed) and does its per-instance work as for a new VM: the hostname and instance id stay the clone's.
      d.client.vms().withDeadlineAfter(200, TimeUnit.SECONDS)
          .stopVm(StopVmRequest.newBuilder().setName("deb-b").setTimeoutSeconds(120).build());
      Vm again = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName("deb-b").build());
      assertThat(again.getQemuCommand()).doesNotContain("-incoming");
      d.client.vms().withDeadlineAfter(620, TimeUnit.SECONDS)
          .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName("deb-b").setTimeoutSeconds(600).build());
      // cloud-init installs the agent again (a new instance to it) and restarts it: a request in flight then fails.
      Poll.until("cloud-init done in deb-b's new boot", Duration.ofSeconds(600), () -> {
        try {
          return sh(d, "deb-b", "cloud-init status").equals("status: done");
        } catch (StatusRuntimeException e) {
          return false;
        }
      });
      assertThat(sh(d, "deb-b", "hostname")).isEqualTo("deb-b");
      assertThat(sh(d, "deb-b", "cat /etc/vmlet/instance-id")).isEqualTo(clones.get(1).getInstanceId());
      assertThat(sh(d, "deb-b", "cat /root/pushed.bin | sha256sum | cut -d' ' -f1")).isEqualTo(sha);
      assertThat(hostKey(d, "deb-b")).isNotEqualTo(templateKey);

      for (String vm : List.of("deb-a", "deb-b", "deb-src")) {
        d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(vm).setForce(true).build());
      }
      d.client.vms().deleteTemplate(TemplateRef.newBuilder().setName("deb-tpl").build());
      assertThat(dir).doesNotExist();
    }
  }
}
