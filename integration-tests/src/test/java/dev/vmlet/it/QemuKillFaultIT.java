package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.faults.Faults;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.PortForward;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.LinkOption;

/**
 * Fault suite: QEMU killed with SIGKILL behind the daemon's back, cycle after cycle. The VM must be
 * reported CRASHED within a second, its host ports and sockets released, its agent link closed,
 * and it must start again. Short form: 2 cycles; long: 20.
 */
class QemuKillFaultIT {
  @TempDir Path tmp;
  private TestDaemon d;

  @AfterEach
  void close() throws Exception {
    if (d != null) {
      d.close();
    }
  }

  private Vm get(String name) {
    return d.client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
  }

  private static boolean bindable(String address, int port) {
    try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName(address))) {
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /** Sockets and other non-regular, non-directory files under the VM's run directory. */
  private static List<String> socketsUnder(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return List.of();
    }
    try (var s = Files.walk(dir)) {
      return s.filter(p -> {
        try {
          BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
          return a.isOther();
        } catch (IOException e) {
          return false;
        }
      }).map(p -> dir.relativize(p).toString()).toList();
    }
  }

  @Test
  void qemuKilled_isCrashedWithinASecond_andReleasesItsPortsAndSockets_andStartsAgain() throws Exception {
    d = TestDaemon.start(tmp);
    int cycles = Faults.pick(2, 20);
    String name = "qk";
    d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder()
        .setName(name).setMemoryMib(384).addForwards(PortForward.newBuilder().setGuestPort(80))).setStart(true).build());
    List<Long> crashedMs = new ArrayList<>();
    int portsFreed = 0;
    int ports = 0;
    int socketsLeft = 0;
    int restarted = 0;
    VmWatch events = null;
    for (int cycle = 0; cycle < cycles; cycle++) {
      if (cycle > 0) {
        d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build());
        restarted++;
      }
      Vm running = Guests.waitReady(d.client, name);
      if (events == null) {
        events = VmWatch.open(d.client, name);
      }
      events.clear();
      assertThat(socketsUnder(d.paths.vmRunDir(name))).as("a running VM has its sockets").isNotEmpty();
      List<PortForward> forwards = new ArrayList<>(running.getForwardsList());
      forwards.add(PortForward.newBuilder().setHostAddress(running.getSshHost()).setHostPort(running.getSshPort()).build());

      long killedAt = System.nanoTime();
      ProcessHandle.of(running.getPid()).orElseThrow().destroyForcibly();
      events.await(VmEvent.Kind.CRASHED, Duration.ofSeconds(10));
      crashedMs.add((System.nanoTime() - killedAt) / 1_000_000);
      Vm crashed = get(name);
      assertThat(crashed.getState()).isEqualTo(VmState.CRASHED);
      assertThat(crashed.getAgentReady()).as("the agent link is closed").isFalse();
      assertThat(crashed.getLastError()).contains("QEMU exited unexpectedly");
      for (PortForward f : forwards) {
        ports++;
        String address = f.getHostAddress().isEmpty() ? "127.0.0.1" : f.getHostAddress();
        if (bindable(address, f.getHostPort())) {
          portsFreed++;
        }
      }
      socketsLeft += socketsUnder(d.paths.vmRunDir(name)).size();
    }
    events.close();
    Vm last = d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build());
    restarted++;
    assertThat(last.getState()).isEqualTo(VmState.RUNNING);
    Faults.report("QEMU killed", String.format(
        "kill -9 of QEMU, %d cycles: CRASHED reported %s after the kill (limit 1000 ms), host ports free again %d/%d,"
            + " sockets left in the VM's run directory %d, agent link closed %d/%d, started again %d/%d"
            + " (no TAP device or GPU on this machine: those releases are covered by unit tests only)",
        cycles, Faults.medianMax(crashedMs), portsFreed, ports, socketsLeft, cycles, cycles, restarted, cycles));
    assertThat(crashedMs).allSatisfy(ms -> assertThat(ms).isLessThan(1000L));
    assertThat(portsFreed).isEqualTo(ports);
    assertThat(socketsLeft).isZero();
  }
}
