package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.DirectBoot;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.Network;
import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.Platform;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.Tuning;
import dev.vmlet.spec.VmConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class QemuCommandBuilderTest {
  private final VmFiles files = new VmFiles(Path.of("/run/vmlet/vms/web1"), Path.of("/var/lib/vmlet/vms/web1"));
  private final VmConfig config = new VmConfig("web1", 2, 1024, "micro", "auto");
  private static final BootImage MICRO = new BootImage(Path.of("/k"), Path.of("/i"));

  private List<String> build(VmConfig c, String accel, BootImage boot, VmFiles f, List<PortForward> forwards,
      List<AttachedDisk> disks, Path hugepages, Firmware firmware) {
    return QemuCommandBuilder.build(new QemuLaunch("q", c, "id", accel, boot, f, forwards, disks, hugepages, firmware, 2_445_424, List.of()));
  }

  private String line(VmConfig c, BootImage boot, List<AttachedDisk> disks) {
    return String.join(" ", build(c, "tcg", boot, files, List.of(), disks, null, null));
  }

  @Test
  void build_givesTheExactArgumentList() {
    List<String> args = QemuCommandBuilder.build(new QemuLaunch("qemu-system-x86_64", config, "1111-2222", "tcg",
        new BootImage(Path.of("/cache/micro/vmlinuz"), Path.of("/cache/micro/initrd.img")), files,
        List.of(new PortForward("tcp", "127.0.0.1", 8080, 80), new PortForward("udp", "::1", 5353, 53)),
        List.of(new AttachedDisk("data", Path.of("/var/lib/vmlet/vms/web1/disks/data.qcow2"))), null, null, 2_445_424, List.of()));
    assertThat(args).containsExactly(
        "qemu-system-x86_64",
        "-name", "web1,process=vmlet-web1,debug-threads=on",
        "-machine", "q35",
        "-accel", "tcg",
        "-cpu", "max,-erms,-fsrm",
        "-smp", "2",
        "-m", "1024M",
        "-nodefaults", "-no-user-config", "-display", "none",
        "-kernel", "/cache/micro/vmlinuz", "-initrd", "/cache/micro/initrd.img",
        "-append", "console=ttyS0 panic=-1 quiet cryptomgr.notests=1 vmlet.instance_id=1111-2222 vmlet.hostname=web1",
        "-chardev", "socket,id=console,path=/run/vmlet/vms/web1/console.sock,server=on,wait=off",
        "-serial", "chardev:console",
        "-drive", "file=/var/lib/vmlet/vms/web1/disks/data.qcow2,format=qcow2,if=none,id=disk-data,discard=unmap",
        "-device", "virtio-blk-pci,drive=disk-data,serial=data",
        "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:[::1]:5353-:53",
        "-device", "virtio-net-pci,netdev=net0,mac=" + QemuCommandBuilder.mac("1111-2222"),
        "-device", "virtio-serial-pci,id=vser0",
        "-chardev", "socket,id=agent,path=/run/vmlet/vms/web1/agent.sock,server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=agent,name=dev.vmlet.agent.0",
        "-chardev", "socket,id=qga,path=/run/vmlet/vms/web1/qga.sock,server=on,wait=off",
        "-device", "virtserialport,bus=vser0.0,chardev=qga,name=org.qemu.guest_agent.0",
        "-device", "virtio-rng-pci,id=rng0",
        "-fw_cfg", "name=opt/dev.vmlet/token,file=/var/lib/vmlet/vms/web1/agent-token",
        "-fw_cfg", "name=opt/dev.vmlet/identity,file=/var/lib/vmlet/vms/web1/identity",
        "-qmp", "unix:/run/vmlet/vms/web1/qmp.sock,server=on,wait=off",
        "-pidfile", "/run/vmlet/vms/web1/qemu.pid");
  }

  @Test
  void build_withKvm_usesTheHostCpu() {
    List<String> args = build(config, "kvm", MICRO, files, List.of(), List.of(), null, null);
    assertThat(String.join(" ", args)).contains("-accel kvm -cpu host -smp 2");
  }

  @Test
  void cpuModelOf_readsTheModelBackFromTheCommandLine_andQemusDefaultWhenNoneWasGiven() {
    String line = QemuCommandBuilder.toShellLine(build(config, "tcg", MICRO, files, List.of(), List.of(), null, null));
    assertThat(QemuCommandBuilder.cpuModelOf(line)).isEqualTo("max");
    assertThat(QemuCommandBuilder.cpuModelOf("qemu-system-x86_64 -accel tcg -smp 1")).isEqualTo("qemu64");
    assertThat(QemuCommandBuilder.cpuModelOf("q -cpu host,migratable=off -smp 1")).isEqualTo("host");
    assertThat(QemuCommandBuilder.cpuModelOf("")).isEmpty();
  }

  @Test
  void build_doublesCommasInPaths_soQemuDoesNotSplitThem() {
    VmFiles odd = new VmFiles(Path.of("/tmp/a,b"), Path.of("/tmp/c,d"));
    List<String> args = build(config, "tcg", MICRO, odd, List.of(), List.of(), null, null);
    assertThat(args).contains("unix:/tmp/a,,b/qmp.sock,server=on,wait=off",
        "socket,id=console,path=/tmp/a,,b/console.sock,server=on,wait=off");
  }

  @Test
  void build_refusesAnUnresolvedAccelerator() {
    assertThatThrownBy(() -> build(config, "auto", MICRO, files, List.of(), List.of(), null, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kvm or tcg");
  }

  @Test
  void build_withHugepagesAndBalloon_addsTheMemoryBackendAndTheDevice() {
    VmConfig tuned = VmConfig.builder("web1").vcpus(2).memoryMib(1024).tuning(new Tuning(true, true, List.of())).build();
    String line = String.join(" ", build(tuned, "tcg", MICRO, files, List.of(), List.of(), Path.of("/dev/hugepages"), null));
    assertThat(line).contains("-m 1024M -object memory-backend-file,id=mem0,size=1024M,mem-path=/dev/hugepages,share=off,prealloc=on"
        + " -numa node,memdev=mem0 -device virtio-balloon-pci,id=balloon0");
  }

  @Test
  void build_withUefi_addsReadOnlyCodeAndThePerVmVariables() {
    VmConfig uefi = VmConfig.builder("web1").platform(new Platform("q35", "uefi")).build();
    List<String> args = build(uefi, "tcg", MICRO, files, List.of(), List.of(), null,
        new Firmware(Path.of("/fw/CODE.fd"), Path.of("/fw/VARS.fd")));
    assertThat(String.join(" ", args)).contains("-drive if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd "
        + "-drive if=pflash,format=qcow2,unit=1,file=/var/lib/vmlet/vms/web1/uefi-vars.qcow2");
  }

  @Test
  void build_withTheUsersKernel_appendsVmletParametersToTheirCommandLine_andSkipsAMissingInitrd() {
    VmConfig own = VmConfig.builder("web1").directBoot(new DirectBoot("/boot/vmlinuz", "", "console=ttyS0 quiet")).build();
    String line = line(own, new BootImage(Path.of("/boot/vmlinuz"), null), List.of());
    assertThat(line).contains("-kernel /boot/vmlinuz -append console=ttyS0 quiet vmlet.instance_id=id vmlet.hostname=web1 ")
        .doesNotContain("-initrd");
  }

  @Test
  void build_bootingADisk_hasNoKernel_andMarksTheFirstDiskBootable() {
    VmConfig disk = VmConfig.builder("web1").image("disk")
        .disks(List.of(new DiskConfig("root", "/img/debian.qcow2", 0, false), new DiskConfig("data", "", 10, false))).build();
    String line = line(disk, null, List.of(new AttachedDisk("root", Path.of("/d/root.qcow2")), new AttachedDisk("data", Path.of("/d/data.qcow2"))));
    assertThat(line).doesNotContain("-kernel").doesNotContain("-append")
        .contains("-device virtio-blk-pci,drive=disk-root,serial=root,bootindex=0 ")
        .contains("-device virtio-blk-pci,drive=disk-data,serial=data ");
  }

  @Test
  void build_onMicrovm_usesVirtioMmioDevices_andAcpi() {
    VmConfig micro = VmConfig.builder("web1").platform(new Platform("microvm", "bios")).tuning(new Tuning(true, false, List.of()))
        .disks(List.of(new DiskConfig("data", "", 10, false))).build();
    String line = line(micro, MICRO, List.of(new AttachedDisk("data", Path.of("/d/data.qcow2"))));
    assertThat(line).contains("-machine microvm,acpi=on,rtc=on,pit=on,pic=on ")
        .contains("vmlet.hostname=web1 tsc_early_khz=2445424 tsc=reliable ")
        .contains("-device virtio-balloon-device,id=balloon0")
        .contains("-device virtio-blk-device,drive=disk-data,serial=data")
        .contains("-device virtio-net-device,netdev=net0,mac=")
        .contains("-device virtio-serial-device,id=vser0")
        .doesNotContain("-pci");
  }

  @Test
  void build_withATap_usesItWithoutScripts_andTheStableMac() {
    VmConfig tap = VmConfig.builder("web1").network(new Network("tap-web1")).build();
    assertThat(line(tap, MICRO, List.of()))
        .contains("-netdev tap,id=net0,ifname=tap-web1,script=no,downscript=no -device virtio-net-pci,netdev=net0,mac="
            + QemuCommandBuilder.mac("id") + " ")
        .doesNotContain("hostfwd");
  }

  @Test
  void build_withASandboxAndAUser_startsQemuAsThatUser_withTheWholeFilter() {
    QemuUser user = new QemuUser("vmlet-qemu", 999, 995, List.of(108));
    List<String> args = QemuCommandBuilder.build(new QemuLaunch("q", config, "id", "tcg", MICRO, files, List.of(), List.of(), null, null,
        0, List.of(), List.of(), new QemuSandbox.Confinement(QemuSandbox.OPTIONS, user)));
    assertThat(String.join(" ", args))
        .startsWith("/usr/bin/setpriv --reuid=999 --regid=995 --groups=108 --inh-caps=-all --bounding-set=-all --no-new-privs -- q ")
        .contains("-display none -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny ")
        .doesNotContain("-runas", "prlimit");
  }

  @Test
  void build_withAUserAndAGpu_raisesTheLockedMemoryLimitBeforeTheDrop() {
    VmConfig gpu = VmConfig.builder("web1").memoryMib(2048).platform(new Platform("q35", "uefi"))
        .gpus(List.of(new PciAddress("01:00.0"))).build();
    QemuUser user = new QemuUser("vmlet-qemu", 999, 995, List.of());
    List<String> args = QemuCommandBuilder.build(new QemuLaunch("q", gpu, "id", "kvm", MICRO, files, List.of(), List.of(), null,
        new Firmware(Path.of("/ovmf/code.fd"), Path.of("/ovmf/vars.fd")), 0, List.of(), List.of(new PciAddress("01:00.0")),
        new QemuSandbox.Confinement("", user)));
    long bytes = (2048L + 1024) * 1024 * 1024;
    assertThat(String.join(" ", args)).startsWith("/usr/bin/prlimit --memlock=" + bytes + ":" + bytes
        + " /usr/bin/setpriv --reuid=999 --regid=995 --clear-groups ");
  }

  @Test
  void build_withGpus_putsEachCardOnItsOwnRootPort_withItsFunctionsTogether() {
    VmConfig gpu = VmConfig.builder("web1").platform(new Platform("q35", "uefi")).gpus(List.of(new PciAddress("01:00.0"))).build();
    List<String> args = QemuCommandBuilder.build(new QemuLaunch("q", gpu, "id", "kvm", MICRO, files, List.of(), List.of(), null,
        new Firmware(Path.of("/ovmf/code.fd"), Path.of("/ovmf/vars.fd")), 0, List.of(), List.of(new PciAddress("01:00.0"), new PciAddress("01:00.1"), new PciAddress("0000:02:00.0"))));
    assertThat(String.join(" ", args)).contains(
        "-device pcie-root-port,id=vfio0,chassis=1"
            + " -device vfio-pci,host=0000:01:00.0,bus=vfio0,addr=0x0.0,multifunction=on"
            + " -device vfio-pci,host=0000:01:00.1,bus=vfio0,addr=0x0.1"
            + " -device pcie-root-port,id=vfio1,chassis=2"
            + " -device vfio-pci,host=0000:02:00.0,bus=vfio1,addr=0x0.0 ");
  }

  @Test
  void hostTsc_isReadFromCpuinfo_onlyWhenConstant() {
    assertThat(HostTsc.parseKhz("processor\t: 0\ncpu MHz\t\t: 2445.424\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n"))
        .isEqualTo(2_445_424);
    assertThat(HostTsc.parseKhz("cpu MHz\t\t: 2445.424\nflags\t\t: fpu tsc\n")).isZero();
    assertThat(HostTsc.parseKhz("cpu MHz\t\t: fast\nflags\t\t: constant_tsc\n")).isZero();
    assertThat(HostTsc.parseKhz("")).isZero();
  }

  @Test
  void build_forTheDebianImage_bootsItsKernelOnTheRootDisk_withTheSeedAndBundleReadOnly() {
    VmConfig debian = VmConfig.builder("web1").image("debian").build()
        .withRootDisk(new DiskConfig("root", "/var/lib/vmlet/vms/web1/base/root.qcow2", 0, false));
    String line = String.join(" ", QemuCommandBuilder.build(new QemuLaunch("q", debian, "id", "tcg",
        new BootImage(Path.of("/b/vmlinuz"), Path.of("/b/initrd.img")), files, List.of(),
        List.of(new AttachedDisk("root", Path.of("/d/root.qcow2"))), null, null, 0,
        List.of(Path.of("/s/cidata.iso"), Path.of("/c/agent-bundle.iso")))));
    assertThat(line).contains("-append root=/dev/vda rw console=ttyS0 vmlet.instance_id=id vmlet.hostname=web1 ")
        .contains("-device virtio-blk-pci,drive=disk-root,serial=root -drive file=/s/cidata.iso,format=raw,if=none,id=ro0,readonly=on"
            + " -device virtio-blk-pci,drive=ro0 -drive file=/c/agent-bundle.iso,format=raw,if=none,id=ro1,readonly=on"
            + " -device virtio-blk-pci,drive=ro1 ");
  }

  @Test
  void mac_isStablePerInstance_andLocallyAdministered() {
    assertThat(QemuCommandBuilder.mac("abc")).isEqualTo(QemuCommandBuilder.mac("abc")).startsWith("52:54:00:")
        .matches("52:54:00(:[0-9a-f]{2}){3}");
    assertThat(QemuCommandBuilder.mac("abc")).isNotEqualTo(QemuCommandBuilder.mac("abd"));
  }

  @Test
  void build_refusesAForwardWithoutAChosenHostPort() {
    assertThatThrownBy(() -> build(config, "tcg", MICRO, files,
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

  @Test
  void build_withCredentialsAndAProxy_readsEachOemStringFromItsFile_neverPutsASecretOnTheCommandLine() {
    VmConfig c = VmConfig.builder("web1").credentials(List.of(new dev.vmlet.spec.Credential("db.password",
        "hunter2".getBytes(java.nio.charset.StandardCharsets.UTF_8)))).httpProxy("http://u:pw@10.0.2.2:3128").build();
    String line = line(c, MICRO, List.of());
    assertThat(line).contains("-smbios type=11,path=/var/lib/vmlet/vms/web1/smbios/oem-0 -smbios type=11,path=/var/lib/vmlet/vms/web1/smbios/oem-1 ")
        .doesNotContain("hunter2").doesNotContain("pw@").doesNotContain("oem-2");
    assertThat(line(config, MICRO, List.of())).doesNotContain("-smbios");
  }
}
