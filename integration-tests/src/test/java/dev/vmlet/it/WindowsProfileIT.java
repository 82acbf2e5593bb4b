package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.proto.v1.AgentPort;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.Firmware;
import dev.vmlet.proto.v1.GuestOs;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Windows profile (--os windows) run by the real QEMU under TCG. No Windows image can be had
 * or booted here, so the guest is a blank disk: what this shows is that QEMU takes the whole
 * command line (Hyper-V flags, SMM, the Secure Boot firmware, the TPM, the drivers CD-ROM, COM2),
 * that OVMF with Secure Boot runs and talks to the TPM (swtpm writes its state), and that swtpm ends
 * with the VM. QemuWindowsArgsTest holds the exact command line.
 */
class WindowsProfileIT {
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

  @Test
  void windowsProfile_qemuRunsItUnderTcg_ovmfTalksToTheTpm_andSwtpmEndsWithTheVm() throws Exception {
    Path disk = tmp.resolve("blank-windows.qcow2");
    run("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "1G");
    Path isoDir = Files.createDirectories(tmp.resolve("iso"));
    Files.writeString(isoDir.resolve("README.TXT"), "stand-in for virtio-win\n");
    Path iso = tmp.resolve("drivers.iso");
    run("xorriso", "-as", "mkisofs", "-quiet", "-V", "VIRTIO_WIN", "-o", iso.toString(), isoDir.toString());
    // QEMU's user reads both (the test directory is reachable, see Qemu.reachable).
    for (Path p : List.of(disk, iso)) {
      p.toFile().setReadable(true, false);
    }

    String name = "it-windows";
    Vm vm = testDaemon.client.vms().withDeadlineAfter(180, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(1024).setImage(disk.toString()).setOs(GuestOs.GUEST_OS_WINDOWS)
            .setDriversIso(iso.toString())).setStart(true).build());
    assertThat(vm.getState()).isEqualTo(VmState.RUNNING);
    assertThat(vm.getSpec().getFirmware()).isEqualTo(Firmware.FIRMWARE_UEFI);
    assertThat(vm.getSpec().getAgentPort()).isEqualTo(AgentPort.AGENT_PORT_SERIAL);
    assertThat(vm.getSpec().getTpm()).isTrue();
    assertThat(vm.getQemuCommand()).contains("-machine q35,smm=on", "-cpu max,-erms,-fsrm,hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time",
        "-global driver=cfi.pflash01,property=secure,value=on", "OVMF_CODE_4M.secboot.fd", "-tpmdev emulator",
        "media=cdrom", "-device ide-cd,drive=drivers,bus=ide.1", "-serial chardev:agentserial", "-rtc base=localtime");
    Path runDir = testDaemon.paths.vmRunDir(name);
    Path state = testDaemon.paths.vmStateDir(name);
    ProcessHandle swtpm = TpmIT.swtpm(runDir).orElseThrow(() -> new AssertionError("no swtpm runs for " + name));

    // OVMF measures the boot into the TPM (swtpm then writes its state) and, finding no bootable
    // disk, says so on the serial console.
    Poll.until("OVMF to start the TPM (swtpm's state in " + state.resolve("tpm") + ")", Duration.ofSeconds(300),
        () -> Files.exists(state.resolve("tpm/tpm2-00.permall")));
    Poll.until("OVMF's boot manager on the console, " + state.resolve("console.log"), Duration.ofSeconds(300),
        () -> console(state).contains("BdsDxe"));
    assertThat(ProcessHandle.of(vm.getPid())).hasValueSatisfying(h -> assertThat(h.isAlive()).isTrue());

    testDaemon.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).build());
    assertThat(swtpm.onExit().get(30, TimeUnit.SECONDS).isAlive()).isFalse();
    testDaemon.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).build());
  }

  @Test
  void windowsWithTheMicroImage_isRefusedSayingWhatToBoot() {
    assertThatThrownBy(() -> testDaemon.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName("bad-windows").setOs(GuestOs.GUEST_OS_WINDOWS)).setStart(true).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
          assertThat(e.getStatus().getDescription()).startsWith("os windows boots a Windows disk image through UEFI");
        });
    assertThat(testDaemon.paths.vmStateDir("bad-windows")).doesNotExist();
  }

  private static String console(Path state) throws IOException {
    Path log = state.resolve("console.log");
    return Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
  }

  private static void run(String... argv) throws Exception {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", argv) + ": " + out).isZero();
  }
}
