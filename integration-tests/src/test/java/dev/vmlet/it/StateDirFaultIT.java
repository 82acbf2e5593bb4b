package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.faults.Faults;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.qemu.QemuProcess;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Assertions;

/**
 * Fault suite: the daemon's state directory fills up while a VM runs, then turns read-only. Every
 * call that would write state fails with a status that says what and what to do, and changes
 * nothing; the running VM is not killed; no half-written state file is left; once the directory
 * is usable again, a new daemon reads every VM back. Needs root (a small tmpfs is mounted).
 */
class StateDirFaultIT {
  @TempDir Path tmp;
  private TestDaemon d;
  private Path mount;

  @AfterEach
  void close() throws Exception {
    try {
      if (d != null) {
        run("mount", "-o", "remount,rw", mount.toString());
        Files.deleteIfExists(mount.resolve("filler"));
        d.close();
      }
    } finally {
      if (mount != null) {
        run("umount", "-l", mount.toString());
      }
    }
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", cmd) + ": " + out);
    }
  }

  /** Remounts the state directory read-only; when Linux says it is busy, says who holds it (fuser). */
  private void remountReadOnly() throws Exception {
    try {
      run("mount", "-o", "remount,ro", mount.toString());
    } catch (IOException busy) {
      Process p = new ProcessBuilder("fuser", "-vm", mount.toString()).redirectErrorStream(true).start();
      String holders = new String(p.getInputStream().readAllBytes());
      p.waitFor(10, TimeUnit.SECONDS);
      throw new IOException(busy.getMessage() + "; holding the mount (fuser -vm):\n" + holders, busy);
    }
  }

  /** Fills the file system under {@code dir} until it refuses another byte. */
  private static void fill(Path dir) throws IOException {
    byte[] block = new byte[1 << 16];
    try (OutputStream out = Files.newOutputStream(dir.resolve("filler"))) {
      while (true) {
        out.write(block);
      }
    } catch (IOException full) {
      // what we wanted
    }
    try (OutputStream out = Files.newOutputStream(dir.resolve("filler"), StandardOpenOption.APPEND)) {
      for (int i = 0; i < 4096; i++) {
        out.write(1);
        out.flush();
      }
    } catch (IOException full) {
      // the last bytes too
    }
  }

  private List<String> halfWritten() throws IOException {
    try (var s = Files.walk(mount)) {
      return s.map(p -> mount.relativize(p).toString()).filter(n -> n.endsWith(".tmp")).toList();
    }
  }

  private Vm get(String name) {
    return d.client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
  }

  /** A call that must be refused with {@code code}, saying why and what to do; returns the message. */
  private String refused(Status.Code code, String what, Runnable call, List<String> seen) {
    StatusRuntimeException e = (StatusRuntimeException) Assertions.assertThrows(StatusRuntimeException.class,
        call::run, what);
    assertThat(e.getStatus().getCode()).as(what).isEqualTo(code);
    assertThat(e.getStatus().getDescription()).as(what).contains("retry");
    seen.add(what + " -> " + code);
    System.out.println(what + ": " + code + ": " + e.getStatus().getDescription());
    return e.getStatus().getDescription();
  }

  @Test
  void aFullThenReadOnlyStateDirectory_refusesWritesClearly_killsNothing_andLosesNothing() throws Exception {
    Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
    // The VMs' part of the state directory (the daemon's audit log, open for appending, stays outside,
    // so the mount can be turned read-only).
    mount = Files.createDirectories(tmp.resolve("state/vms"));
    run("mount", "-t", "tmpfs", "-o", "size=8m", "vmlet-state-fault", mount.toString());
    d = TestDaemon.start(tmp); // its state directory is tmp/state
    d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName("keep").setMemoryMib(384)).setStart(true).build());
    Vm keep = Guests.waitReady(d.client, "keep");
    d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName("idle").setMemoryMib(256)).build());
    String keepState = Files.readString(mount.resolve("keep/vm.json"));
    List<String> refusals = new ArrayList<>();
    Consumer<String> stillRuns = when -> {
      assertThat(ProcessHandle.of(keep.getPid()).map(QemuProcess::isRunning).orElse(false)).as("QEMU " + when).isTrue();
      assertThat(get("keep").getState()).as(when).isEqualTo(VmState.RUNNING);
      assertThat(Guests.sh(d.client, "keep", "echo alive")).as("the guest " + when).isEqualTo("alive\n");
    };

    // Full.
    fill(mount);
    String full = refused(Status.Code.RESOURCE_EXHAUSTED, "CreateVm on a full state directory", () -> d.client.vms()
        .withDeadlineAfter(60, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName("new1").setMemoryMib(256)).build()), refusals);
    assertThat(full).contains("No space left on device");
    assertThat(mount.resolve("new1")).doesNotExist();
    refused(Status.Code.RESOURCE_EXHAUSTED, "PauseVm on a full state directory",
        () -> d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).pauseVm(VmRef.newBuilder().setName("keep").build()), refusals);
    refused(Status.Code.RESOURCE_EXHAUSTED, "StartVm on a full state directory",
        () -> d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName("idle").build()), refusals);
    assertThat(get("idle").getState()).isEqualTo(VmState.CREATED);
    stillRuns.accept("after writes refused on a full state directory");
    assertThat(halfWritten()).as("half-written state files").isEmpty();
    assertThat(Files.readString(mount.resolve("keep/vm.json"))).isEqualTo(keepState);

    // Read-only, with the space back. Linux refuses to remount a file system read-only while a
    // program writes in it, and QEMU keeps its log in the VM's state directory: keep is stopped first.
    Files.delete(mount.resolve("filler"));
    d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName("keep").build());
    // STOPPED means nothing of the VM runs or holds its files: the remount must work at once.
    remountReadOnly();
    refused(Status.Code.FAILED_PRECONDITION, "CreateVm on a read-only state directory", () -> d.client.vms()
        .withDeadlineAfter(60, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName("new2").setMemoryMib(256)).build()), refusals);
    refused(Status.Code.FAILED_PRECONDITION, "StartVm on a read-only state directory",
        () -> d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName("keep").build()), refusals);
    refused(Status.Code.FAILED_PRECONDITION, "DeleteVm on a read-only state directory", () -> d.client.vms()
        .withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("idle").build()), refusals);
    assertThat(get("keep").getState()).isEqualTo(VmState.STOPPED);
    assertThat(get("idle").getState()).isEqualTo(VmState.CREATED);

    // Usable again: the calls work, and a new daemon reads every VM back.
    run("mount", "-o", "remount,rw", mount.toString());
    Vm again = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName("keep").build());
    Guests.waitReady(d.client, "keep");
    d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).pauseVm(VmRef.newBuilder().setName("keep").build());
    d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).resumeVm(VmRef.newBuilder().setName("keep").build());
    d = d.restart(() -> { });
    List<Vm> back = d.client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance()).getVmsList();
    assertThat(back).extracting(v -> v.getSpec().getName() + "=" + v.getState())
        .containsExactlyInAnyOrder("keep=RUNNING", "idle=CREATED");
    assertThat(get("keep").getPid()).as("re-adopted, not restarted").isEqualTo(again.getPid());
    Guests.waitReady(d.client, "keep");
    assertThat(Guests.sh(d.client, "keep", "echo alive")).isEqualTo("alive\n");
    Faults.report("state directory full, then read-only", String.format(
        "%d writing calls refused (%s), every one saying what failed and what to do; while full, a running VM"
            + " kept running and answering; half-written state files 0; VMs killed 0; state files changed by a refused call 0;"
            + " VMs read back by a new daemon afterwards 2/2 (the running one re-adopted). Read-only was tried with no VM running:"
            + " Linux refuses to remount read-only while QEMU writes its log there", refusals.size(), String.join(", ", refusals)));
  }
}
