package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
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
import dev.vmlet.proto.v1.AgentPort;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.Machine;
import dev.vmlet.qemu.QemuSandbox;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The boot sources and platforms other than the default: machine microvm, the user's own kernel,
 * firmware booting a disk image, and a TAP device on a bridge. Real QEMU, real guests.
 */
class BootSourcesIT {
  @TempDir static Path tmp;
  static VmletPaths paths;
  static DaemonClient client;
  static Path micro;

  static TestDaemon testDaemon;

  @BeforeAll
  static void startDaemon() throws Exception {
    testDaemon = TestDaemon.start(tmp);
    paths = testDaemon.paths;
    client = testDaemon.client;
    micro = TestDaemon.microImage();
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (testDaemon != null) {
      testDaemon.close();
    }
  }

  static Vm create(VmSpec.Builder spec) {
    return client.vms().withDeadlineAfter(120, TimeUnit.SECONDS)
        .createVm(CreateVmRequest.newBuilder().setSpec(spec).setStart(true).build());
  }

  static void delete(String name) {
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    assertThat(paths.vmStateDir(name)).doesNotExist();
  }

  @Test
  void microvmMachine_bootsOnVirtioMmio_phonesHome_andStopsOnTheAcpiButton() {
    String name = "it-microvm";
    Vm vm = create(VmSpec.newBuilder().setName(name).setMachine(Machine.MACHINE_MICROVM).setBalloon(true)
        .addDisks(DiskSpec.newBuilder().setName("data").setSizeMib(8)));
    // qboot gets the ELF kernel and enters it at its PVH entry.
    assertThat(vm.getQemuCommand()).contains("-kernel " + micro.resolve("vmlinux") + " ");
    Guests.waitReady(client, name);
    // No PCI bus at all; the disk, the NIC, the console port, the entropy source and the balloon sit on virtio-mmio.
    assertThat(Guests.sh(client, name, "ls /sys/bus/pci/devices 2>/dev/null | wc -l")).isEqualTo("0\n");
    String devices = Guests.sh(client, name, "for d in /sys/bus/virtio/devices/*; do readlink -f $d; done");
    assertThat(devices.lines()).hasSize(5).allSatisfy(d -> assertThat(d).doesNotContain("pci"));
    assertThat(Guests.sh(client, name, "cat /sys/block/vda/size")).isEqualTo(8 * 2048 + "\n");
    long t0 = System.nanoTime();
    Vm stopped = client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).build());
    System.out.printf("microvm stop (ACPI): %d ms%n", (System.nanoTime() - t0) / 1_000_000);
    assertThat(stopped.getState()).isEqualTo(VmState.STOPPED);
    assertThat(stopped.getLastError()).isEmpty();
    delete(name);
  }

  @Test
  void theAgentOnTheLegacySerialPort_phonesHome_runsCommands_andMovesFiles() throws Exception {
    String name = "it-serial";
    Vm vm = create(VmSpec.newBuilder().setName(name).setAgentPort(AgentPort.AGENT_PORT_SERIAL));
    assertThat(vm.getQemuCommand()).contains("agent-serial.sock");
    Guests.waitReady(client, name);
    // The agent chose ttyS1 because the kernel command line said so; the virtio port is not used.
    assertThat(Guests.sh(client, name, "cat /proc/cmdline")).contains("vmlet.agent_port=serial");
    assertThat(Guests.sh(client, name, "ls -l /proc/$(pidof java)/fd 2>/dev/null | grep -c ttyS1")).isEqualTo("1\n");
    byte[] data = new byte[256 * 1024];
    new Random(2).nextBytes(data);
    long t0 = System.nanoTime();
    assertThat(Guests.push(client, name, "/tmp/s.bin", data, null, false).getSha256()).isEqualTo(Guests.sha(data));
    System.out.printf("256 KiB over the legacy serial port under TCG: %.0f KB/s%n", 262.144 / ((System.nanoTime() - t0) / 1e9));
    assertThat(Guests.pull(client, name, "/tmp/s.bin").data()).isEqualTo(data);
    delete(name);
  }

  @Test
  void aGuestThatIgnoresTheAcpiButton_isStillStoppedGracefully_byItsAgent() throws Exception {
    String name = "it-noacpi";
    create(VmSpec.newBuilder().setName(name));
    Guests.waitReady(client, name);
    Guests.sh(client, name, "kill -STOP $(pidof acpid)"); // the power button now does nothing
    long t0 = System.nanoTime();
    Vm stopped = client.vms().withDeadlineAfter(90, TimeUnit.SECONDS)
        .stopVm(StopVmRequest.newBuilder().setName(name).setTimeoutSeconds(30).build());
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.printf("stop of a guest that ignores ACPI, through its agent: %d ms%n", ms);
    assertThat(stopped.getState()).isEqualTo(VmState.STOPPED);
    assertThat(ms).as("the guest powered itself off, not the 30 s timeout then quit").isLessThan(25_000);
    delete(name);
  }

  @Test
  void theUsersOwnKernel_bootsWithTheirCommandLinePlusVmletsParameters() {
    String name = "it-kernel";
    Vm vm = create(VmSpec.newBuilder().setName(name).setKernel(KernelBoot.newBuilder()
        .setPath(micro.resolve("vmlinuz").toString()).setInitrd(micro.resolve("initrd.img").toString())
        .setCmdline("console=ttyS0 panic=-1 vmlet_it_marker=1")));
    assertThat(vm.getSpec().getImage()).isEqualTo("kernel");
    Guests.waitReady(client, name);
    assertThat(Guests.sh(client, name, "cat /proc/cmdline"))
        .startsWith("console=ttyS0 panic=-1 vmlet_it_marker=1 vmlet.instance_id=" + vm.getInstanceId() + " vmlet.hostname=" + name);
    delete(name);
  }

  /**
   * A disk image whose boot sector writes a line to COM1 and halts: firmware (SeaBIOS) must find
   * and boot the first disk, through the qcow2 overlay over the user's raw image.
   */
  static byte[] serialHelloSector(String message) {
    byte[] code = {
        (byte) 0xFC,                          // cld
        0x31, (byte) 0xC0,                    // xor ax, ax
        (byte) 0x8E, (byte) 0xD8,             // mov ds, ax
        (byte) 0xBE, 0x17, 0x7C,              // mov si, 0x7c17 (the message)
        (byte) 0xBA, (byte) 0xF8, 0x03,       // mov dx, 0x3f8 (COM1)
        (byte) 0xAC,                          // next: lodsb
        (byte) 0x84, (byte) 0xC0,             // test al, al
        0x74, 0x03,                           // jz done
        (byte) 0xEE,                          // out dx, al
        (byte) 0xEB, (byte) 0xF8,             // jmp next
        (byte) 0xFA, (byte) 0xF4,             // done: cli; hlt
        (byte) 0xEB, (byte) 0xFD};            // jmp hlt
    byte[] sector = new byte[512];
    System.arraycopy(code, 0, sector, 0, code.length);
    byte[] text = (message + "\r\n\0").getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(text, 0, sector, code.length, text.length);
    sector[510] = 0x55;
    sector[511] = (byte) 0xAA;
    return sector;
  }

  /**
   * Starts a VM that firmware boots from a 1 MiB raw disk image at {@code base} whose boot sector
   * prints {@code message} and halts (no OS: it ignores ACPI and has no agent); returns the image.
   */
  static byte[] startDiskVm(String name, Path base, String message) throws Exception {
    byte[] image = new byte[1024 * 1024];
    System.arraycopy(serialHelloSector(message), 0, image, 0, 512);
    Files.write(base, image);
    TestDaemon.agentBundle(); // a disk image is booted as a cloud image: the bundle is attached
    create(VmSpec.newBuilder().setName(name).setImage("disk")
        .addDisks(DiskSpec.newBuilder().setName("root").setBaseImage(base.toString())));
    return image;
  }

  @Test
  void aDiskImage_isBootedByTheFirmware_andNeverWritten() throws Exception {
    String name = "it-disk";
    Path base = tmp.resolve("hello.raw");
    byte[] image = startDiskVm(name, base, "vmlet disk boot ok");
    Path console = paths.vmStateDir(name).resolve("console.log");
    Poll.until("the console of a disk-booted VM to say 'vmlet disk boot ok'", Duration.ofSeconds(60),
        () -> consoleHas(console, "vmlet disk boot ok"));
    Vm vm = client.vms().getVm(VmRef.newBuilder().setName(name).build());
    assertThat(vm.getQemuCommand()).doesNotContain("-kernel").contains("bootindex=0");
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).setForce(true).build());
    assertThat(Files.readAllBytes(base)).isEqualTo(image);
    delete(name);
  }

  /**
   * Readers never wait on a VM's owner: while a stop waits out a guest that ignores the ACPI button
   * (a boot sector that halts, no agent), ListVms and GetVm answer at once and show it STOPPING.
   */
  @Test
  void listAndGet_whileAStopWaitsOutAGuestThatIgnoresAcpi_answerAtOnce() throws Exception {
    String name = "it-deaf";
    startDiskVm(name, tmp.resolve("deaf.raw"), "vmlet deaf guest");
    CompletableFuture<Vm> stop = CompletableFuture.supplyAsync(() -> client.vms()
        .withDeadlineAfter(120, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).setTimeoutSeconds(6).build()));
    VmState seen = VmState.RUNNING;
    while (seen == VmState.RUNNING) { // until the stop has begun: its ladder then waits up to 6 s for the guest
      seen = client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build()).getState();
    }
    assertThat(seen).as("a reader sees the stop under way, not only its end").isEqualTo(VmState.STOPPING);
    List<Long> micros = new ArrayList<>();
    int during = 0;
    for (int i = 0; i < 100; i++) {
      long t0 = System.nanoTime();
      VmState listed = client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance())
          .getVmsList().stream().filter(v -> v.getSpec().getName().equals(name)).findFirst().orElseThrow().getState();
      long t1 = System.nanoTime();
      VmState got = client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build()).getState();
      micros.add((t1 - t0) / 1000);
      micros.add((System.nanoTime() - t1) / 1000);
      if (listed != VmState.STOPPING || got != VmState.STOPPING) {
        break; // the stop has ended
      }
      during++;
    }
    assertThat(during).as("pairs of reads answered while the stop waited out the guest").isGreaterThanOrEqualTo(10);
    Collections.sort(micros);
    System.out.printf("ListVms/GetVm during a stop that waits out a guest: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d calls)%n",
        micros.get(micros.size() / 2) / 1000.0, micros.get(micros.size() * 99 / 100) / 1000.0, micros.get(micros.size() - 1) / 1000.0,
        micros.size());
    assertThat(stop.get(60, TimeUnit.SECONDS).getState()).isEqualTo(VmState.STOPPED);
    delete(name);
  }

  static boolean consoleHas(Path console, String text) throws IOException {
    return Files.exists(console) && Files.readString(console, StandardCharsets.ISO_8859_1).contains(text);
  }

  /** Root only: creates a bridge and a TAP device, and removes them after. */
  @Test
  void aTapOnABridge_carriesTheGuestsTraffic_withTheStableMac() throws Exception {
    assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"),
        "creating a bridge and a TAP device needs root");
    String bridge = "vmletitbr0";
    String tap = "vmletittap0";
    String name = "it-tap";
    ip("link", "del", tap);
    ip("link", "del", bridge);
    Set<PosixFilePermission> tunMode = null;
    try {
      requireIp("link", "add", bridge, "type", "bridge");
      requireIp("addr", "add", "10.213.77.1/24", "dev", bridge);
      requireIp("link", "set", bridge, "up");
      // A TAP that belongs to root: QEMU, which runs as vmlet-qemu, may not attach; the error says
      // how to make one it may use, and that command is what the test then runs.
      requireIp("tuntap", "add", "dev", tap, "mode", "tap", "user", "0");
      requireIp("link", "set", tap, "master", bridge, "up");
      assertThatThrownBy(() -> create(VmSpec.newBuilder().setName(name).setTap(tap)))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
            assertThat(e.getStatus().getDescription()).contains("which may not attach to '" + tap + "' (owner uid 0, group gid -1)")
                .contains("ip tuntap add dev " + tap + " mode tap user " + QemuSandbox.USER);
          });
      requireIp("tuntap", "del", "dev", tap, "mode", "tap");
      requireIp("tuntap", "add", "dev", tap, "mode", "tap", "user", QemuSandbox.USER);
      requireIp("link", "set", tap, "master", bridge, "up");
      // QEMU's user opens /dev/net/tun; udev makes it 0666, this machine's container 0600.
      tunMode = Files.getPosixFilePermissions(TUN);
      if (!tunMode.contains(PosixFilePermission.OTHERS_WRITE)) {
        Files.setPosixFilePermissions(TUN, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build()))
            .hasMessageContaining("which cannot write the TUN device /dev/net/tun").hasMessageContaining("chmod 0666 /dev/net/tun");
        Files.setPosixFilePermissions(TUN, PosixFilePermissions.fromString("rw-rw-rw-"));
      }
      Vm vm = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build());
      assertThat(vm.getSshPort()).as("no SSH forward without user-mode networking").isZero();
      Guests.waitReady(client, name);
      assertThat(Guests.sh(client, name, "cat /sys/class/net/eth0/address")).isEqualTo(vm.getMac() + "\n");
      Guests.Result ping = Guests.exec(client, name, "sh", "-c",
          "ip link set eth0 up && ip addr add 10.213.77.2/24 dev eth0 && ping -c 3 -W 5 10.213.77.1");
      assertThat(ping.exitCode()).as(ping.stdout() + ping.stderr()).isZero();
      delete(name);
    } finally {
      if (tunMode != null) {
        Files.setPosixFilePermissions(TUN, tunMode);
      }
      ip("link", "del", tap);
      ip("link", "del", bridge);
    }
  }

  static final Path TUN = Path.of("/dev/net/tun");

  static int ip(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    return p.waitFor(10, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  static void requireIp(String... args) throws Exception {
    assertThat(ip(args)).as("ip " + String.join(" ", args)).isZero();
  }
}
