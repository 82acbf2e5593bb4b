package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.Machine;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.qemu.QemuSandbox;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A TPM 2.0 (--tpm) in a real micro VM through the real swtpm: the guest's kernel finds it
 * (/dev/tpm0, /dev/tpmrm0, TPM version 2), swtpm runs confined like QEMU, keeps running across a
 * daemon restart, ends with the VM whether it stops or QEMU is killed, and its state stays in
 * the VM's state directory for the next start.
 */
class TpmIT {
  @TempDir static Path tmp;
  static TestDaemon testDaemon;

  @BeforeAll
  static void startDaemon() throws Exception {
    testDaemon = TestDaemon.start(tmp.resolve("daemon"));
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (testDaemon != null) {
      testDaemon.close();
    }
  }

  static DaemonClient client() {
    return testDaemon.client;
  }

  @Test
  void tpm_guestSeesIt_swtpmRunsConfined_outlivesADaemonRestart_andEndsWithTheVm() throws Exception {
    String name = "it-tpm";
    Vm vm = client().vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(512).setTpm(true)).setStart(true).build());
    assertThat(vm.getState()).isEqualTo(VmState.RUNNING);
    assertThat(vm.getSpec().getTpm()).isTrue();
    assertThat(vm.getQemuCommand()).contains("-tpmdev emulator,id=tpm0,chardev=chrtpm", "-device tpm-tis,tpmdev=tpm0");
    Path runDir = testDaemon.paths.vmRunDir(name);
    Path state = testDaemon.paths.vmStateDir(name).resolve("tpm");
    ProcessHandle swtpm = swtpm(runDir).orElseThrow(() -> new AssertionError("no swtpm runs for " + name));
    if ("root".equals(System.getProperty("user.name"))) {
      assertThat(swtpm.info().user()).hasValue(QemuSandbox.USER); // confined like QEMU
    }

    Guests.waitReady(client(), name);
    assertThat(Guests.exec(client(), name, "cat", "/sys/class/tpm/tpm0/tpm_version_major").stdout()).isEqualTo("2\n");
    Guests.Result devices = Guests.exec(client(), name, "ls", "/dev/tpm0", "/dev/tpmrm0");
    assertThat(devices.exitCode()).as(devices.stderr()).isZero();
    // The kernel started the TPM at boot; swtpm then keeps its state in the VM's state directory.
    Poll.until("swtpm to write its state in " + state, Duration.ofSeconds(30), () -> Files.exists(state.resolve("tpm2-00.permall")));

    // A daemon restart leaves QEMU and its swtpm running; the new daemon ends them at stop.
    testDaemon = testDaemon.restart(() -> assertThat(swtpm.isAlive()).isTrue());
    assertThat(client().vms().withDeadlineAfter(30, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build()).getState())
        .isEqualTo(VmState.RUNNING);
    assertThat(swtpm.isAlive()).isTrue();
    client().vms().withDeadlineAfter(120, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).build());
    assertThat(swtpm.onExit().get(30, TimeUnit.SECONDS).isAlive()).isFalse();
    assertThat(swtpm(runDir)).isEmpty();
    assertThat(state.resolve("tpm2-00.permall")).exists();

    // The next start takes the same state; QEMU killed outright takes its swtpm with it.
    client().vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build());
    ProcessHandle again = swtpm(runDir).orElseThrow(() -> new AssertionError("no swtpm after the restart of " + name));
    Guests.waitReady(client(), name);
    assertThat(Guests.exec(client(), name, "cat", "/sys/class/tpm/tpm0/tpm_version_major").stdout()).isEqualTo("2\n");
    long qemuPid = client().vms().withDeadlineAfter(30, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build()).getPid();
    ProcessHandle.of(qemuPid).orElseThrow().destroyForcibly();
    assertThat(again.onExit().get(30, TimeUnit.SECONDS).isAlive()).isFalse();
    Poll.until("VM " + name + " to be CRASHED", Duration.ofSeconds(60), () -> client().vms().withDeadlineAfter(30, TimeUnit.SECONDS)
        .getVm(VmRef.newBuilder().setName(name).build()).getState() == VmState.CRASHED);
    client().vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).build());
    assertThat(state).doesNotExist();
  }

  @Test
  void tpmOnMicrovm_isRefusedWithTheReason_andLeavesNothing() {
    assertThatThrownBy(() -> client().vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName("bad-tpm").setTpm(true).setMachine(Machine.MACHINE_MICROVM)).setStart(true).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).startsWith("tpm needs machine q35");
        });
    assertThat(client().vms().withDeadlineAfter(30, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance()).getVmsList())
        .noneMatch(v -> v.getSpec().getName().equals("bad-tpm"));
    assertThat(testDaemon.paths.vmStateDir("bad-tpm")).doesNotExist();
  }

  /** The swtpm the VM's run directory names, while it runs. */
  static Optional<ProcessHandle> swtpm(Path runDir) {
    return dev.vmlet.proc.Sidecar.find(runDir.resolve("swtpm.pid"), "type=unixio,path=" + runDir + "/");
  }
}
