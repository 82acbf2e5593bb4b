package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.vm.PortForward;
import dev.vmlet.vm.VmConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class QemuCommandBuilderTest {
  private final VmFiles files = new VmFiles(Path.of("/run/vmlet/vms/web1"), Path.of("/var/lib/vmlet/vms/web1"));
  private final VmConfig config = new VmConfig("web1", 2, 1024, "micro", "auto");

  @Test
  void build_givesTheExactArgumentList() {
    List<String> args = QemuCommandBuilder.build("qemu-system-x86_64", config, "1111-2222", "tcg",
        Path.of("/cache/micro/vmlinuz"), Path.of("/cache/micro/initrd.img"), files,
        List.of(new PortForward("tcp", "127.0.0.1", 8080, 80), new PortForward("udp", "::1", 5353, 53)),
        List.of(new AttachedDisk("data", Path.of("/var/lib/vmlet/vms/web1/disks/data.qcow2"))), null, null);
    assertThat(args).containsExactly(
        "qemu-system-x86_64",
        "-name", "web1,process=vmlet-web1,debug-threads=on",
        "-machine", "q35",
        "-accel", "tcg",
        "-smp", "2",
        "-m", "1024M",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-kernel", "/cache/micro/vmlinuz", "-initrd", "/cache/micro/initrd.img",
        "-append", "console=ttyS0 panic=-1 vmlet.instance_id=1111-2222 vmlet.hostname=web1",
        "-chardev", "socket,id=console,path=/run/vmlet/vms/web1/console.sock,server=on,wait=off",
        "-serial", "chardev:console",
        "-drive", "file=/var/lib/vmlet/vms/web1/disks/data.qcow2,format=qcow2,if=none,id=disk-data,discard=unmap",
        "-device", "virtio-blk-pci,drive=disk-data,serial=data",
        "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:[::1]:5353-:53",
        "-device", "virtio-net-pci,netdev=net0,mac=" + QemuCommandBuilder.mac("1111-2222"),
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", "socket,id=agent,path=/run/vmlet/vms/web1/agent.sock,server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=agent,name=dev.vmlet.agent.0",
        "-qmp", "unix:/run/vmlet/vms/web1/qmp.sock,server=on,wait=off",
        "-pidfile", "/run/vmlet/vms/web1/qemu.pid",
        "-daemonize");
  }

  @Test
  void build_withKvm_usesTheHostCpu() {
    List<String> args = QemuCommandBuilder.build("qemu-system-x86_64", config, "id", "kvm",
        Path.of("/k"), Path.of("/i"), files, List.of(), List.of(), null, null);
    assertThat(String.join(" ", args)).contains("-accel kvm -cpu host -smp 2");
  }

  @Test
  void build_doublesCommasInPaths_soQemuDoesNotSplitThem() {
    VmFiles odd = new VmFiles(Path.of("/tmp/a,b"), Path.of("/tmp/c,d"));
    List<String> args = QemuCommandBuilder.build("q", config, "id", "tcg", Path.of("/k"), Path.of("/i"), odd, List.of(), List.of(), null, null);
    assertThat(args).contains("unix:/tmp/a,,b/qmp.sock,server=on,wait=off",
        "socket,id=console,path=/tmp/a,,b/console.sock,server=on,wait=off");
  }

  @Test
  void build_refusesAnUnresolvedAccelerator() {
    assertThatThrownBy(() -> QemuCommandBuilder.build("q", config, "id", "auto", Path.of("/k"), Path.of("/i"), files, List.of(), List.of(), null, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kvm or tcg");
  }

  @Test
  void build_withHugepagesAndBalloon_addsTheMemoryBackendAndTheDevice() {
    VmConfig tuned = new VmConfig("web1", 2, 1024, "micro", "auto", null, null, null,
        new dev.vmlet.vm.Tuning(true, true, List.of()), null);
    String line = String.join(" ", QemuCommandBuilder.build("q", tuned, "id", "tcg", Path.of("/k"), Path.of("/i"), files,
        List.of(), List.of(), Path.of("/dev/hugepages"), null));
    assertThat(line).contains("-m 1024M -object memory-backend-file,id=mem0,size=1024M,mem-path=/dev/hugepages,share=off,prealloc=on"
        + " -numa node,memdev=mem0 -device virtio-balloon-pci,id=balloon0");
  }

  @Test
  void build_withUefi_addsReadOnlyCodeAndThePerVmVariables() {
    VmConfig uefi = new VmConfig("web1", 1, 512, "micro", "auto", null, null, null, null, new dev.vmlet.vm.Platform("q35", "uefi"));
    List<String> args = QemuCommandBuilder.build("q", uefi, "id", "tcg", Path.of("/k"), Path.of("/i"), files, List.of(), List.of(),
        null, new Firmware(Path.of("/fw/CODE.fd"), Path.of("/fw/VARS.fd")));
    assertThat(String.join(" ", args)).contains("-drive if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd "
        + "-drive if=pflash,format=qcow2,unit=1,file=/var/lib/vmlet/vms/web1/uefi-vars.qcow2");
  }

  @Test
  void mac_isStablePerInstance_andLocallyAdministered() {
    assertThat(QemuCommandBuilder.mac("abc")).isEqualTo(QemuCommandBuilder.mac("abc")).startsWith("52:54:00:")
        .matches("52:54:00(:[0-9a-f]{2}){3}");
    assertThat(QemuCommandBuilder.mac("abc")).isNotEqualTo(QemuCommandBuilder.mac("abd"));
  }

  @Test
  void build_refusesAForwardWithoutAChosenHostPort() {
    assertThatThrownBy(() -> QemuCommandBuilder.build("q", config, "id", "tcg", Path.of("/k"), Path.of("/i"), files,
            List.of(new PortForward("tcp", "127.0.0.1", 0, 80)), List.of(), null, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no host port chosen");
  }

  @Test
  void toShellLine_quotesOnlyWhatNeedsIt() {
    assertThat(QemuCommandBuilder.toShellLine(List.of("qemu", "-append", "console=ttyS0 panic=-1", "it's")))
        .isEqualTo("qemu -append 'console=ttyS0 panic=-1' 'it'\\''s'");
  }

  @Test
  void probeSector_isABootableSectorThatWritesTheExitPort() {
    byte[] s = AccelProbe.probeSector();
    assertThat(s).hasSize(512);
    assertThat(s[510]).isEqualTo((byte) 0x55);
    assertThat(s[511]).isEqualTo((byte) 0xAA);
    assertThat(s[2]).isEqualTo((byte) 0xE6); // out imm8, al
    assertThat(AccelProbe.EXPECTED_EXIT).isEqualTo(67);
  }
}
