package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.guest.TokenSessions;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.Machine;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.TemplateRef;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Templates and clones with real parts: a micro VM saved as a template by real QEMU (TCG here),
 * two clones resumed from it side by side, each with its own identity, files and token.
 */
class TemplateIT {
  @TempDir static Path tmp;
  static TestDaemon testDaemon;
  static DaemonClient client;

  @BeforeAll
  static void startDaemon() throws Exception {
    testDaemon = TestDaemon.start(tmp);
    client = testDaemon.client;
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (testDaemon != null) {
      testDaemon.close();
    }
  }

  private static String sh(String vm, String line) {
    return Guests.sh(client, vm, line).strip();
  }

  private static Vm create(String name, String template) {
    long t0 = System.nanoTime();
    Vm vm = client.vms().withDeadlineAfter(180, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(template.isEmpty() ? 256 : 0)).setTemplate(template)
        .setStart(true).build());
    Vm ready = Guests.waitReady(client, name);
    assertThat(Guests.exec(client, name, "true").exitCode()).isZero();
    System.out.printf("%s %s: create to exec answered in %d ms%n", template.isEmpty() ? "boot" : "clone of " + template, name,
        (System.nanoTime() - t0) / 1_000_000);
    if (!template.isEmpty()) {
      // Where the guest's part of the clone's start went, as its agent logged it to the console.
      try (var lines = Files.lines(testDaemon.paths.vmStateDir(name).resolve("console.log"))) {
        lines.filter(l -> l.contains("resumed in a new VM") || l.contains("WARNING")).forEach(l -> System.out.println(name + " guest: " + l.strip()));
      } catch (java.io.IOException | java.io.UncheckedIOException e) {
        System.out.println(name + ": no console log to show (" + e.getMessage() + ")");
      }
    }
    return ready;
  }

  @Test
  void template_fromMicroVm_givesClonesOfTheirOwn_andIsKeptWhileTheyExist() throws Exception {
    Vm source = create("tpl-src", "");
    String sourceId = source.getInstanceId();
    sh("tpl-src", "echo from-template > /root/marker");
    byte[] sourceToken = Files.readAllBytes(testDaemon.paths.vmStateDir("tpl-src").resolve("agent-token"));

    Template t = client.vms().withDeadlineAfter(300, TimeUnit.SECONDS)
        .createTemplate(CreateTemplateRequest.newBuilder().setName("tpl").setVm("tpl-src").build());
    System.out.printf("template tpl: state %d bytes, %d bytes in all%n", t.getStateBytes(), t.getSizeBytes());
    assertThat(t.getSourceVm()).isEqualTo("tpl-src");
    assertThat(t.getMemoryMib()).isEqualTo(256);
    assertThat(t.getStateBytes()).isPositive();
    assertThat(t.getGuest().getHostname()).isEqualTo("tpl-src");
    // Warmed by default: execs of true in the source's agent before the save (fewer only if 20 s ran out first), kept with it.
    System.out.printf("template tpl: agent warmed with %d execs%n", t.getAgentWarmUpExecs());
    assertThat(t.getAgentWarmUpExecs()).isBetween(1, 500);
    assertThat(client.vms().getTemplate(TemplateRef.newBuilder().setName("tpl").build()).getAgentWarmUpExecs())
        .isEqualTo(t.getAgentWarmUpExecs());
    // The source runs on and still answers.
    assertThat(sh("tpl-src", "cat /root/marker")).isEqualTo("from-template");
    // The guest's RAM is a file of its own (sparse: what was zero takes no disk), the state stream the devices only;
    // the helper QEMU that split them is gone with its run directory.
    Path dir = testDaemon.paths.stateDir().resolve("templates/tpl");
    Path memory = dir.resolve("memory");
    assertThat(Files.size(memory)).isEqualTo(256L << 20);
    for (Path f : new Path[] {memory, dir.resolve("state.bin")}) {
      assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString())
          .isEqualTo("rw-------");
    }
    assertThat(t.getStateBytes()).isPositive().isLessThan(16L << 20);
    assertThat(t.getSizeBytes()).isLessThan(Files.size(memory) + t.getStateBytes());
    try (var files = Files.list(dir)) {
      assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrder("disks", "memory", "state.bin", "template.json");
    }
    try (var runs = Files.list(testDaemon.paths.runDir())) {
      assertThat(runs.map(f -> f.getFileName().toString())).noneMatch(f -> f.startsWith("tpl-"));
    }
    assertThat(ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains("process=vmlet-template-helper")))
        .isEmpty();
    String memoryDigest = sha256(memory);

    Vm a = create("clone-a", "tpl");
    Vm b = create("clone-b", "tpl");
    assertThat(a.getQemuCommand()).contains("-incoming defer", "memory-backend-file,id=pc.ram,size=256M,mem-path=" + memory
        + ",share=off");
    // Each clone says who it is: its own instance id, hostname and MAC; the template's file is there.
    for (Vm c : new Vm[] {a, b}) {
      String name = c.getSpec().getName();
      assertThat(c.getInstanceId()).isNotEqualTo(sourceId);
      assertThat(c.getGuest().getHostname()).isEqualTo(name);
      assertThat(sh(name, "hostname")).isEqualTo(name);
      assertThat(sh(name, "cat /root/marker")).isEqualTo("from-template");
      String identity = sh(name, "cat /sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/identity/raw");
      assertThat(identity).contains("instance_id=" + c.getInstanceId());
      assertThat(sh(name, "cat /sys/class/net/eth0/address")).isEqualTo(identity.lines()
          .filter(l -> l.startsWith("mac=")).findFirst().orElseThrow().substring(4));
      // The token the agent proved is the clone's own, not the template's.
      String token = sh(name, "od -An -tx1 -v /sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/token/raw | tr -d ' \\n'");
      assertThat(token).isEqualTo(HexFormat.of().formatHex(Files.readAllBytes(testDaemon.paths.vmStateDir(name).resolve("agent-token"))))
          .isNotEqualTo(HexFormat.of().formatHex(sourceToken));
      // The template's old token is refused on this clone's link. The daemon's real link code, expecting the clone's
      // token (the file VmLinks loads), meets the real agent proving with the source's token over real sockets (QEMU's
      // chardev is the daemon's, so a relay stands in for it): refused; with the token this clone's guest read: a session.
      byte[] cloneHostToken = Files.readAllBytes(testDaemon.paths.vmStateDir(name).resolve("agent-token"));
      Path oldToken = Files.write(tmp.resolve(name + "-template-token"), sourceToken);
      Path guestToken = Files.write(tmp.resolve(name + "-guest-token"), HexFormat.of().parseHex(token));
      TokenSessions.Outcome withOld = TokenSessions.connect(tmp.resolve(name + "-old"), c.getInstanceId(), cloneHostToken, oldToken);
      assertThat(withOld.ready()).isNull();
      assertThat(withOld.refused()).contains("could not prove it runs in the VM this daemon made");
      assertThat(TokenSessions.connect(tmp.resolve(name + "-own"), c.getInstanceId(), cloneHostToken, guestToken).ready())
          .isNotNull();
      // The clock is now, not the template's moment.
      long guestSecs = Long.parseLong(sh(name, "date +%s"));
      assertThat(Math.abs(guestSecs - System.currentTimeMillis() / 1000)).isLessThan(10);
      // The template was saved after the agent's native set-up: clock and MAC through libc, no process.
      assertThat(resumedLine(name)).contains("clock by libc", "MAC of eth0 by libc");
    }
    assertThat(a.getInstanceId()).isNotEqualTo(b.getInstanceId());
    // A clone did not boot: no boot breakdown from the template's boot clock (the source has one).
    assertThat(source.hasBootBreakdown()).isTrue();
    assertThat(client.vms().getVm(VmRef.newBuilder().setName("clone-a").build()).hasBootBreakdown()).isFalse();
    // Root is a tmpfs in the micro image: what one clone writes the other and the source never see.
    sh("clone-a", "echo only-a > /root/a");
    assertThat(sh("clone-b", "cat /root/a 2>&1 || echo missing")).endsWith("missing");
    assertThat(sh("tpl-src", "cat /root/a 2>&1 || echo missing")).endsWith("missing");
    // Clones write their RAM copy-on-write: 32 MiB written in a clone's tmpfs leave the template's file as it was,
    // and the pages a clone only read are the page cache's, shared (its QEMU's RSS minus private).
    sh("clone-b", "dd if=/dev/urandom of=/root/big bs=1M count=32 2>/dev/null; echo done");
    assertThat(sh("clone-a", "cat /root/big 2>&1 || echo missing")).endsWith("missing");
    assertThat(sha256(memory)).isEqualTo(memoryDigest);
    long sharedKiB = BenchSupport.smapsRollupKiB(a.getPid(), "Rss:") - BenchSupport.smapsRollupKiB(a.getPid(), "Private_Clean:")
        - BenchSupport.smapsRollupKiB(a.getPid(), "Private_Dirty:");
    System.out.printf("clone-a's QEMU: %d MiB of its RSS shared%n", sharedKiB / 1024);
    assertThat(sharedKiB).isGreaterThan(32 * 1024);

    // A damaged template is refused before anything is made: a truncated state, a truncated memory file.
    for (Path f : new Path[] {dir.resolve("state.bin"), memory}) {
      Path saved = tmp.resolve("saved-" + f.getFileName());
      Files.copy(f, saved);
      try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
        ch.truncate(Files.size(f) / 2);
      }
      assertThatThrownBy(() -> client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName("clone-bad")).setTemplate("tpl").setStart(true).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains("is damaged", f.toString(), "vmlet template delete tpl");
          });
      assertThat(Files.exists(testDaemon.paths.vmStateDir("clone-bad"))).isFalse();
      Files.move(saved, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    // A template in use is kept, naming its clones.
    assertThatThrownBy(() -> client.vms().deleteTemplate(TemplateRef.newBuilder().setName("tpl").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("clone-a", "clone-b");
        });
    // A clone of another size is refused before anything is made.
    assertThatThrownBy(() -> client.vms().createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName("clone-big").setMemoryMib(512)).setTemplate("tpl").setStart(true).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).contains("256 MiB");
        });
    assertThat(Files.exists(testDaemon.paths.vmStateDir("clone-big"))).isFalse();

    // A clone stops and starts again like any VM (a boot now), and is deleted.
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName("clone-b").build());
    Vm again = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName("clone-b").build());
    assertThat(again.getState()).isEqualTo(VmState.RUNNING);
    assertThat(again.getQemuCommand()).doesNotContain("-incoming");
    Guests.waitReady(client, "clone-b");
    assertThat(sh("clone-b", "hostname")).isEqualTo("clone-b");
    for (String vm : new String[] {"clone-a", "clone-b", "tpl-src"}) {
      client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(vm).setForce(true).build());
    }
    client.vms().deleteTemplate(TemplateRef.newBuilder().setName("tpl").build());
    assertThat(client.vms().listTemplates(dev.vmlet.proto.v1.ListTemplatesRequest.getDefaultInstance()).getTemplatesList()).isEmpty();
  }

  @Test
  void template_ofAMicrovm_namesItsRamBlock_andOneWithABalloon_keepsItsRamInTheStream() throws Exception {
    // microvm's default RAM backend is microvm.ram, not q35's pc.ram: the clone's backend must carry that name.
    client.vms().withDeadlineAfter(180, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder()
        .setName("mv-src").setMemoryMib(256).setMachine(Machine.MACHINE_MICROVM)).setStart(true).build());
    Guests.waitReady(client, "mv-src");
    Template mv = client.vms().withDeadlineAfter(300, TimeUnit.SECONDS)
        .createTemplate(CreateTemplateRequest.newBuilder().setName("tpl-mv").setVm("mv-src").setSkipWarmUp(true).build());
    assertThat(mv.getStateBytes()).isLessThan(16L << 20);
    assertThat(mv.getAgentWarmUpExecs()).isZero();
    Vm clone = create("mv-clone", "tpl-mv");
    assertThat(clone.getQemuCommand()).contains("memory-backend-file,id=microvm.ram,", "share=off");
    assertThat(sh("mv-clone", "hostname")).isEqualTo("mv-clone");

    // A balloon may discard pages, which QEMU 7.2 would punch out of the shared file: its RAM stays in the stream.
    client.vms().withDeadlineAfter(180, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder()
        .setName("bl-src").setMemoryMib(256).setBalloon(true)).setStart(true).build());
    Guests.waitReady(client, "bl-src");
    // Saved at once (skip_agent_setup), and bl-src ran no exec: its agent never made its native set-up, so its clone
    // sets the clock and MAC the other way, with date and ip (as clones of templates made before that set-up did).
    Template bl = client.vms().withDeadlineAfter(300, TimeUnit.SECONDS)
        .createTemplate(CreateTemplateRequest.newBuilder().setName("tpl-bl").setVm("bl-src").setSkipAgentSetup(true).build());
    assertThat(bl.getStateBytes()).isGreaterThan(64L << 20);
    assertThat(bl.getAgentWarmUpExecs()).isZero();
    assertThat(testDaemon.paths.stateDir().resolve("templates/tpl-bl/memory")).doesNotExist();
    Vm blClone = create("bl-clone", "tpl-bl");
    assertThat(blClone.getQemuCommand()).contains("-incoming defer").doesNotContain("memory-backend-file");
    assertThat(sh("bl-clone", "hostname")).isEqualTo("bl-clone");
    assertThat(resumedLine("bl-clone")).contains("clock by date", "MAC of eth0 by ip").doesNotContain("libc", "failed");
    String identity = sh("bl-clone", "cat /sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/identity/raw");
    assertThat(sh("bl-clone", "cat /sys/class/net/eth0/address")).isEqualTo(identity.lines()
        .filter(l -> l.startsWith("mac=")).findFirst().orElseThrow().substring(4));
    assertThat(Math.abs(Long.parseLong(sh("bl-clone", "date +%s")) - System.currentTimeMillis() / 1000)).isLessThan(10);

    for (String vm : new String[] {"mv-clone", "mv-src", "bl-clone", "bl-src"}) {
      client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(vm).setForce(true).build());
    }
    client.vms().deleteTemplate(TemplateRef.newBuilder().setName("tpl-mv").build());
    client.vms().deleteTemplate(TemplateRef.newBuilder().setName("tpl-bl").build());
  }

  /** The agent's "resumed in a new VM" line in the clone's console log (the console link may write it a moment late). */
  private static String resumedLine(String vm) throws Exception {
    Path log = testDaemon.paths.vmStateDir(vm).resolve("console.log");
    return Poll.forValue(vm + "'s resumed line in " + log, Duration.ofSeconds(20), () -> {
      try (var lines = Files.lines(log, java.nio.charset.StandardCharsets.ISO_8859_1)) {
        return lines.filter(l -> l.contains("resumed in a new VM")).findFirst().orElse(null);
      } catch (java.nio.file.NoSuchFileException e) {
        return null;
      }
    });
  }

  private static String sha256(Path file) throws Exception {
    java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 20];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }


  @Test
  void template_fromAStoppedVm_isRefusedWithTheWayOut() {
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName("tpl-stopped").setMemoryMib(256)).build());
    assertThatThrownBy(() -> client.vms().createTemplate(CreateTemplateRequest.newBuilder().setName("t2").setVm("tpl-stopped").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("CREATED", "vmlet start tpl-stopped");
        });
    assertThat(Files.exists(testDaemon.paths.stateDir().resolve("templates/t2"))).isFalse();
    client.vms().deleteVm(DeleteVmRequest.newBuilder().setName("tpl-stopped").build());
  }
}
