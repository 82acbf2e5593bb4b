package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.qemu.QemuProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon as its own process, killed with SIGKILL while two VMs run: a new daemon re-adopts
 * both, their agents phone home again, and nothing was killed or rebooted.
 */
class DaemonKillIT {
  @TempDir Path tmp;
  private DaemonProcess daemon;
  private VmletPaths paths;
  private final List<Long> qemuPids = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    daemon = new DaemonProcess(tmp);
    paths = daemon.paths;
  }

  @AfterEach
  void tearDown() throws Exception {
    daemon.destroy();
    for (long pid : qemuPids) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  @Test
  void daemonKilledWithTwoVmsRunning_newDaemonReadoptsBoth_andTheirAgentsReconnect() throws Exception {
    daemon.start();
    try (DaemonClient c = daemon.client()) {
      int lastCpu = Runtime.getRuntime().availableProcessors() - 1;
      for (String name : List.of("k1", "k2")) {
        VmSpec.Builder spec = VmSpec.newBuilder().setName(name).setMemoryMib(384);
        if (name.equals("k2")) {
          spec.setBalloon(true).addCpuPinning(lastCpu); // tuning rides along on the second VM
        }
        Vm vm = c.vms().withDeadlineAfter(120, TimeUnit.SECONDS)
            .createVm(CreateVmRequest.newBuilder().setSpec(spec).setStart(true).build());
        qemuPids.add(vm.getPid());
      }
      for (String name : List.of("k1", "k2")) {
        Guests.waitReady(c, name);
      }
      // k2's vCPU thread runs only on the pinned host CPU, and the guest sees a balloon (virtio id 5).
      assertThat(vcpuAffinity(qemuPids.get(1))).isEqualTo(Integer.toString(lastCpu));
      assertThat(Guests.sh(c, "k2", "cat /sys/bus/virtio/devices/*/device")).contains("0x0005");
    }
    String bootBefore = bootId("k1");

    daemon.kill(); // SIGKILL: no shutdown hook, no socket clean-up
    for (long pid : qemuPids) {
      assertThat(ProcessHandle.of(pid).map(QemuProcess::isRunning).orElse(false)).as("QEMU " + pid).isTrue();
    }

    long restartAt = System.nanoTime();
    daemon.start(); // the dead daemon's socket file is still there; the new one must take over
    try (DaemonClient c = new DaemonClient(paths.socket())) {
      List<Vm> vms = c.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance()).getVmsList();
      assertThat(vms).extracting(Vm::getState).containsExactly(VmState.RUNNING, VmState.RUNNING);
      assertThat(vms).extracting(Vm::getPid).containsExactlyElementsOf(qemuPids);
      for (String name : List.of("k1", "k2")) {
        Guests.waitReady(c, name);
      }
      System.out.printf("daemon kill -9 with 2 VMs: 2 re-adopted, both agents back %d ms after the new daemon was started%n",
          (System.nanoTime() - restartAt) / 1_000_000);
      assertThat(bootId("k1")).as("no reboot").isEqualTo(bootBefore);
      for (String name : List.of("k1", "k2")) {
        c.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
      }
    }
    for (long pid : qemuPids) {
      assertThat(ProcessHandle.of(pid).map(QemuProcess::isRunning).orElse(false)).isFalse();
    }
  }

  /** Cpus_allowed_list of QEMU's "CPU 0/..." thread. */
  private static String vcpuAffinity(long qemuPid) throws Exception {
    try (var tasks = Files.list(Path.of("/proc", Long.toString(qemuPid), "task"))) {
      for (Path t : tasks.toList()) {
        if (Files.readString(t.resolve("comm")).startsWith("CPU 0/")) {
          for (String line : Files.readAllLines(t.resolve("status"))) {
            if (line.startsWith("Cpus_allowed_list:")) {
              return line.substring("Cpus_allowed_list:".length()).strip();
            }
          }
        }
      }
    }
    throw new AssertionError("no vCPU thread found in QEMU " + qemuPid);
  }

  private String bootId(String vm) throws Exception {
    try (DaemonClient c = new DaemonClient(paths.socket())) {
      return Guests.exec(c, vm, "cat", "/proc/sys/kernel/random/boot_id").stdout().strip();
    }
  }
}
