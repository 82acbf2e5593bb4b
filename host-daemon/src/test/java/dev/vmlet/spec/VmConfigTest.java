package dev.vmlet.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.assertj.core.api.Assertions;

class VmConfigTest {
  @Test
  void builder_fillsUnsetFieldsWithDefaults() {
    VmConfig c = VmConfig.builder("demo").image("").accel("").build();
    assertThat(c).isEqualTo(new VmConfig("demo", 1, 512, "micro", "auto"));
    assertThat(c.network()).isEqualTo(Network.USER);
    assertThat(c.gpus()).isEmpty();
  }

  @Test
  void emptyName_isRefused() {
    assertThatThrownBy(() -> VmConfig.builder("").build())
        .isInstanceOf(VmException.class).hasMessage("name must not be empty")
        .satisfies(e -> assertThat(((VmException) e).kind()).isEqualTo(VmException.Kind.INVALID_ARGUMENT));
  }

  @Test
  void tooLongName_isRefused() {
    assertThatThrownBy(() -> VmConfig.builder("a".repeat(64)).build())
        .hasMessage("name must be at most 63 characters, got 64");
  }

  @ParameterizedTest
  @ValueSource(strings = {"a/b", "..", "../etc", "-x", "Web", "a b", "a.b"})
  void namesWithPathOrOddCharacters_areRefused(String name) {
    assertThatThrownBy(() -> VmConfig.validateName(name))
        .isInstanceOf(VmException.class).hasMessageContaining("is not allowed");
  }

  @Test
  void cpusOutOfRange_isRefusedNamingTheField() {
    assertThatThrownBy(() -> new VmConfig("a", 0, 512, "micro", "auto")).hasMessage("vcpus must be between 1 and 64, got 0");
    assertThatThrownBy(() -> new VmConfig("a", 65, 512, "micro", "auto")).hasMessageContaining("vcpus");
  }

  @Test
  void memoryOutOfRange_isRefusedNamingTheField() {
    assertThatThrownBy(() -> new VmConfig("a", 1, 64, "micro", "auto"))
        .hasMessage("memory_mib must be between 128 and 1048576, got 64");
  }

  @Test
  void aMicroImageWithLessMemoryThanItBootsIn_isRefusedSayingHowMuch() {
    assertThatThrownBy(() -> VmConfig.builder("a").memoryMib(192).build())
        .hasMessageStartingWith("memory_mib: the micro image needs at least 256 MiB").hasMessageContaining("--memory 256");
    assertThatThrownBy(() -> VmConfig.builder("a").image("micro-generic").memoryMib(255).build())
        .hasMessageContaining("micro-generic image needs at least 256 MiB");
    assertThat(VmConfig.builder("a").memoryMib(256).build().memoryMib()).isEqualTo(256);
    assertThat(VmConfig.builder("a").image("debian").memoryMib(128).build().memoryMib()).isEqualTo(128);
  }

  @Test
  void theSameHostPortTwice_isRefused() {
    assertThatThrownBy(() -> VmConfig.builder("a")
            .forwards(List.of(PortForward.parse("8080:80"), PortForward.parse("8080:81"))).build())
        .hasMessage("forwards: host port 8080/tcp is given twice");
  }

  @Test
  void forwardSpecs_parseOrFailSayingTheForm() {
    assertThat(PortForward.parse("8080:80")).isEqualTo(new PortForward("tcp", "127.0.0.1", 8080, 80));
    assertThat(PortForward.parse("0.0.0.0:0:53/udp")).isEqualTo(new PortForward("udp", "0.0.0.0", 0, 53));
    assertThat(PortForward.parse("[::1]:2222:22")).isEqualTo(new PortForward("tcp", "::1", 2222, 22));
    assertThatThrownBy(() -> PortForward.parse("80")).hasMessageContaining("is not [ADDRESS:]HOST_PORT:GUEST_PORT");
    assertThatThrownBy(() -> PortForward.parse("70000:80")).hasMessageContaining("host_port must be between 0 and 65535");
    assertThatThrownBy(() -> PortForward.parse("80:0")).hasMessageContaining("guest_port must be between 1 and 65535");
    assertThatThrownBy(() -> PortForward.parse("example.com:80:80")).hasMessageContaining("is not [ADDRESS:]");
  }

  @Test
  void labels_areCheckedKeyAndValue() {
    assertThat(VmConfig.builder("a").labels(Map.of("role", "web", "team.io/owner", "ops")).build().labels())
        .containsEntry("role", "web");
    assertThatThrownBy(() -> VmConfig.builder("a").labels(Map.of("bad key", "x")).build())
        .hasMessageContaining("labels: key 'bad key' is not allowed");
    assertThatThrownBy(() -> VmConfig.builder("a").labels(Map.of("role", "a/b")).build())
        .hasMessageContaining("labels: value 'a/b' of 'role' is not allowed");
  }

  @Test
  void disks_areChecked() {
    assertThatThrownBy(() -> new DiskConfig("Data", "", 10, false)).hasMessageContaining("disks.name 'Data' is not allowed");
    assertThatThrownBy(() -> new DiskConfig("data", "base.qcow2", 0, false)).hasMessageContaining("must be an absolute path");
    assertThatThrownBy(() -> new DiskConfig("data", "", 0, false)).hasMessage("disks[data] needs a base_image or a size_mib");
    assertThatThrownBy(() -> VmConfig.builder("a")
            .disks(List.of(new DiskConfig("d", "", 1, false), new DiskConfig("d", "", 2, true))).build())
        .hasMessage("disks: the name 'd' is given twice");
  }

  @Test
  void contradictoryTuning_isRefusedNamingTheFields() {
    assertThatThrownBy(() -> VmConfig.builder("a").vcpus(2).tuning(new Tuning(false, false, List.of(0))).build())
        .hasMessage("cpu_pinning must name one host CPU per vCPU: 2 vCPUs, 1 CPUs given");
    assertThatThrownBy(() -> VmConfig.builder("a").memoryMib(513).tuning(new Tuning(false, true, null)).build())
        .hasMessageContaining("multiple of 2 with hugepages");
    assertThatThrownBy(() -> new Tuning(false, false, List.of(-1))).hasMessageContaining("out of range");
  }

  @Test
  void unknownMachineOrFirmware_isRefused() {
    assertThatThrownBy(() -> new Platform("pc", "bios")).hasMessage("machine must be q35 or microvm, got 'pc'");
    assertThatThrownBy(() -> new Platform("microvm", "uefi")).hasMessageContaining("uefi needs machine q35");
    assertThatThrownBy(() -> new Platform("q35", "coreboot")).hasMessage("firmware must be bios or uefi, got 'coreboot'");
    assertThat(new Platform("", "")).isEqualTo(Platform.DEFAULT);
  }

  @Test
  void bootSource_mustMatchItsFields() {
    DirectBoot k = new DirectBoot("/boot/vmlinuz", "", "");
    assertThat(VmConfig.builder("a").directBoot(k).build().image()).isEqualTo("kernel");
    assertThatThrownBy(() -> VmConfig.builder("a").image("kernel").build()).hasMessageContaining("image 'kernel' needs kernel.path");
    assertThatThrownBy(() -> VmConfig.builder("a").image("micro").directBoot(k).build())
        .hasMessageContaining("kernel.path is given, so image must be 'kernel'");
    assertThatThrownBy(() -> VmConfig.builder("a").image("ubuntu").build()).hasMessageContaining("image must be micro, micro-generic, debian");
    assertThatThrownBy(() -> VmConfig.builder("a").image("disk").build()).hasMessageContaining("image 'disk' boots the first disk");
    assertThatThrownBy(() -> VmConfig.builder("a").image("disk").disks(List.of(new DiskConfig("d", "", 10, false))).build())
        .hasMessageContaining("give a disk with a base_image first");
  }

  @Test
  void anImagePath_becomesADiskBootFromARootDiskOverIt() {
    VmConfig c = VmConfig.builder("a").image("/img/cloud.qcow2").disks(List.of(new DiskConfig("data", "", 10, false))).build();
    assertThat(c.image()).isEqualTo("disk");
    assertThat(c.disks()).containsExactly(new DiskConfig("root", "/img/cloud.qcow2", 0, false), new DiskConfig("data", "", 10, false));
    assertThatThrownBy(() -> VmConfig.builder("a").image("/img/cloud.qcow2").disks(List.of(new DiskConfig("root", "", 10, false))).build())
        .hasMessageContaining("'root' is the name of the image's own disk");
    assertThatThrownBy(() -> VmConfig.builder("a").image("img/cloud.qcow2").build()).hasMessageContaining("give the absolute path");
  }

  @Test
  void cloudInit_onlyForCloudImages_andChecked() {
    CloudInitConfig ci = new CloudInitConfig("#cloud-config\nruncmd: [date]\n", "");
    assertThat(VmConfig.builder("a").image("debian").cloudInit(ci).build().cloudInit()).isEqualTo(ci);
    assertThatThrownBy(() -> VmConfig.builder("a").cloudInit(ci).build()).hasMessageContaining("cloud_init needs a cloud image");
    assertThatThrownBy(() -> new CloudInitConfig("#cloud-config\nruncmd: [date\n", ""))
        .hasMessageContaining("cloud_init.user_data is not valid YAML");
    assertThatThrownBy(() -> new CloudInitConfig("hello", "")).hasMessageContaining("must start with #cloud-config");
    assertThatThrownBy(() -> new CloudInitConfig("", "not a key")).hasMessageContaining("ssh_authorized_key is not one authorized_keys line");
    assertThat(new CloudInitConfig("#!/bin/sh\necho hi\n", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI me@host").isEmpty()).isFalse();
  }

  @Test
  void directBoot_fieldsAreChecked() {
    assertThatThrownBy(() -> new DirectBoot("vmlinuz", "", "")).hasMessageContaining("kernel.path must be an absolute path");
    assertThatThrownBy(() -> new DirectBoot("/k", "initrd", "")).hasMessageContaining("kernel.initrd must be an absolute path");
    assertThatThrownBy(() -> new DirectBoot("/k", "", "a\nb")).hasMessageContaining("kernel.cmdline must be one line");
    assertThatThrownBy(() -> new DirectBoot("/k", "", "x".repeat(2049))).hasMessageContaining("kernel.cmdline");
    assertThatThrownBy(() -> new DirectBoot("/k", "", "vmlet.instance_id=x")).hasMessageContaining("must not set vmlet.*");
  }

  @Test
  void microvm_refusesWhatItCannotDo() {
    Platform microvm = new Platform("microvm", "bios");
    assertThatThrownBy(() -> VmConfig.builder("a").platform(microvm).image("disk")
            .disks(List.of(new DiskConfig("root", "/img.qcow2", 0, false))).build())
        .hasMessageContaining("machine microvm boots the micro image or a kernel only");
    assertThatThrownBy(() -> VmConfig.builder("a").platform(microvm).gpus(List.of(new PciAddress("01:00.0"))).build())
        .hasMessage("gpus need machine q35 (microvm has no PCI bus)");
    assertThat(VmConfig.builder("a").platform(microvm).build().platform().microvm()).isTrue();
  }

  @Test
  void tapAndForwards_contradictEachOther() {
    assertThatThrownBy(() -> VmConfig.builder("a").network(new Network("tap0")).forwards(List.of(PortForward.parse("8080:80"))).build())
        .hasMessageContaining("forwards need user-mode networking");
    assertThatThrownBy(() -> new Network("tap/0")).hasMessageContaining("network.tap 'tap/0' is not an interface name");
    assertThatThrownBy(() -> new Network("a-very-long-tap-name")).hasMessageContaining("is not an interface name");
  }

  @Test
  void gpus_areCheckedAddresses() {
    assertThat(new PciAddress("01:00.0").value()).isEqualTo("0000:01:00.0");
    assertThat(new PciAddress("0000:0A:1f.7").value()).isEqualTo("0000:0a:1f.7");
    assertThatThrownBy(() -> new PciAddress("1:0.0")).hasMessageContaining("is not a PCI address like 0000:01:00.0");
    assertThatThrownBy(() -> new PciAddress("../../etc")).hasMessageContaining("is not a PCI address");
    assertThatThrownBy(() -> VmConfig.builder("a").gpus(List.of(new PciAddress("01:00.0"), new PciAddress("0000:01:00.0"))).build())
        .hasMessage("gpus: a device is given twice");
    assertThatThrownBy(() -> VmConfig.builder("a").gpus(List.of(new PciAddress("01:00.0"))).build())
        .hasMessageContaining("gpus need firmware uefi");
  }

  @Test
  void unknownAccel_isRefused() {
    assertThatThrownBy(() -> new VmConfig("a", 1, 512, "micro", "hvf")).hasMessageContaining("accel must be auto, kvm or tcg");
  }

  @Test
  void agentPort_isVirtioOrSerial_andSerialNeedsQ35() {
    assertThat(new Platform("q35", "bios").agentPort()).isEqualTo("virtio");
    assertThat(new Platform("q35", "bios", "serial").agentOnSerial()).isTrue();
    Assertions.assertThatThrownBy(() -> new Platform("q35", "bios", "usb"))
        .hasMessageContaining("agent_port must be virtio or serial, got 'usb'");
    Assertions.assertThatThrownBy(() -> new Platform("microvm", "bios", "serial"))
        .hasMessageContaining("agent_port serial needs machine q35");
  }
}
