package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.Machine;
import dev.vmlet.proto.v1.Share;
import dev.vmlet.proto.v1.SnapshotRequest;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Host directories shared into a real micro VM with virtiofs (the real virtiofsd, real QEMU): what
 * the host writes the guest reads and the other way round, a read-only share refuses writes in the
 * guest even after the guest remounts it read-write, and virtiofsd ends with the VM.
 */
class ShareIT {
  @TempDir static Path tmp;
  static TestDaemon testDaemon;
  static DaemonClient client;

  @BeforeAll
  static void startDaemon() throws Exception {
    testDaemon = TestDaemon.start(tmp.resolve("daemon"));
    client = testDaemon.client;
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (testDaemon != null) {
      testDaemon.close();
    }
  }

  static Guests.Result exec(String vm, String... argv) {
    return Guests.exec(client, vm, argv);
  }

  @Test
  void shares_carryFilesBothWays_readOnlyRefusesWrites_andVirtiofsdEndsWithTheVm() throws Exception {
    Path rw = Files.createDirectories(tmp.resolve("work"));
    Path ro = Files.createDirectories(tmp.resolve("inputs"));
    Files.writeString(rw.resolve("from-host.txt"), "written on the host\n");
    Files.writeString(ro.resolve("input.txt"), "read-only input\n");
    String name = "it-share";
    Vm vm = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(512)
            .addDisks(DiskSpec.newBuilder().setName("data").setSizeMib(16)) // somewhere a snapshot could go
            .addShares(Share.newBuilder().setHostPath(rw.toString()).setGuestPath("/mnt/work"))
            .addShares(Share.newBuilder().setHostPath(ro.toString()).setGuestPath("/mnt/inputs").setReadOnly(true)))
        .setStart(true).build());
    assertThat(vm.getState()).isEqualTo(VmState.RUNNING);
    assertThat(vm.getQemuCommand()).contains("memory-backend-memfd,id=mem0,size=512M,share=on", "vhost-user-fs-pci,queue-size=1024",
        "tag=vmlet0", "tag=vmlet1", "vmlet.share=vmlet1:/mnt/inputs:ro");
    Path runDir = testDaemon.paths.vmRunDir(name);
    // One virtiofsd per share (sandbox=namespace runs as a parent and a child in its pid namespace).
    assertThat(virtiofsd(runDir).stream().map(p -> p.info().arguments().map(a -> List.of(a).stream()
        .filter(x -> x.startsWith("--socket-path=")).findFirst().orElse("")).orElse("")).distinct().sorted())
        .containsExactly("--socket-path=" + runDir.resolve("fs0.sock"), "--socket-path=" + runDir.resolve("fs1.sock"));
    Guests.waitReady(client, name);

    assertThat(exec(name, "cat", "/mnt/work/from-host.txt").stdout()).isEqualTo("written on the host\n");
    assertThat(exec(name, "sh", "-c", "echo written in the guest > /mnt/work/from-guest.txt").exitCode()).isZero();
    assertThat(Files.readString(rw.resolve("from-guest.txt"))).isEqualTo("written in the guest\n");
    // virtiofsd runs as root and keeps the guest's ids: the guest's root wrote it, so root owns it.
    assertThat(Files.getAttribute(rw.resolve("from-guest.txt"), "unix:uid")).isEqualTo(0);
    // A host change is seen in the guest (cache=auto: within about a second).
    Files.writeString(rw.resolve("from-host.txt"), "changed on the host\n");
    Thread.sleep(1500);
    assertThat(exec(name, "cat", "/mnt/work/from-host.txt").stdout()).isEqualTo("changed on the host\n");

    assertThat(exec(name, "cat", "/mnt/inputs/input.txt").stdout()).isEqualTo("read-only input\n");
    Guests.Result refused = exec(name, "sh", "-c", "echo x > /mnt/inputs/new.txt");
    assertThat(refused.exitCode()).isNotZero();
    assertThat(refused.stderr()).contains("Read-only file system");
    // The guest's root can remount it read-write; the host side still refuses (virtiofsd's read-only bind).
    assertThat(exec(name, "mount", "-o", "remount,rw", "/mnt/inputs").exitCode()).isZero();
    Guests.Result stillRefused = exec(name, "sh", "-c", "echo x > /mnt/inputs/new.txt");
    assertThat(stillRefused.exitCode()).isNotZero();
    assertThat(stillRefused.stderr()).contains("Read-only file system");
    assertThat(exec(name, "rm", "/mnt/inputs/input.txt").exitCode()).isNotZero();
    assertThat(ro.resolve("new.txt")).doesNotExist();
    assertThat(ro.resolve("input.txt")).exists();

    // QEMU cannot save a vhost-user-fs device's state: a live snapshot is refused before it is tried.
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
            .createSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("s1").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("runs with shared directories (virtiofs)");
        });

    client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).build());
    assertThat(virtiofsd(runDir)).isEmpty();
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).build());
    assertThat(rw.resolve("from-guest.txt")).exists(); // the share is the user's: delete leaves it alone
  }

  @Test
  void badShares_areRefusedWithTheReason_andLeaveNothingBehind() throws Exception {
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    Path dir = Files.createDirectories(tmp.resolve("dir"));
    record Bad(Share share, Machine machine, String says) {}
    for (Bad bad : List.of(
        new Bad(Share.newBuilder().setHostPath(tmp.resolve("missing").toString()).setGuestPath("/mnt/x").build(), null,
            "does not exist"),
        new Bad(Share.newBuilder().setHostPath(file.toString()).setGuestPath("/mnt/x").build(), null, "is not a directory"),
        new Bad(Share.newBuilder().setHostPath(dir.toString()).setGuestPath("mnt/x").build(), null, "must be absolute"),
        new Bad(Share.newBuilder().setHostPath(dir.toString()).setGuestPath("/mnt/x").build(), Machine.MACHINE_MICROVM,
            "machine q35"))) {
      VmSpec.Builder spec = VmSpec.newBuilder().setName("bad-share").addShares(bad.share());
      if (bad.machine() != null) {
        spec.setMachine(bad.machine());
      }
      assertThatThrownBy(() -> client.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
              .createVm(CreateVmRequest.newBuilder().setSpec(spec).setStart(true).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getStatus().getDescription()).contains(bad.says());
          });
    }
    VmSpec twice = VmSpec.newBuilder().setName("bad-share")
        .addShares(Share.newBuilder().setHostPath(dir.toString()).setGuestPath("/mnt/x"))
        .addShares(Share.newBuilder().setHostPath(tmp.toString()).setGuestPath("/mnt/x/")).build();
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
            .createVm(CreateVmRequest.newBuilder().setSpec(twice).setStart(true).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getDescription()).contains("given twice"));
    Path vms = testDaemon.paths.stateDir().resolve("vms");
    assertThat(vms.resolve("bad-share")).doesNotExist();
    assertThat(virtiofsd(testDaemon.paths.vmRunDir("bad-share"))).isEmpty();
  }

  /** The virtiofsd processes serving sockets in a VM's run directory. */
  static List<ProcessHandle> virtiofsd(Path runDir) {
    return ProcessHandle.allProcesses().filter(p -> p.info().commandLine()
        .map(c -> c.contains("virtiofsd") && c.contains("--socket-path=" + runDir + "/")).orElse(false)).toList();
  }
}
