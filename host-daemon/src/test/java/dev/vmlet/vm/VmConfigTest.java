package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class VmConfigTest {
  @Test
  void withDefaults_fillsUnsetFields() {
    VmConfig c = VmConfig.withDefaults("demo", 0, 0, "", "", null, null, null, null, null);
    assertThat(c).isEqualTo(new VmConfig("demo", 1, 512, "micro", "auto"));
  }

  @Test
  void emptyName_isRefused() {
    assertThatThrownBy(() -> VmConfig.withDefaults("", 1, 512, "micro", "auto", null, null, null, null, null))
        .isInstanceOf(VmException.class).hasMessage("name must not be empty")
        .satisfies(e -> assertThat(((VmException) e).kind()).isEqualTo(VmException.Kind.INVALID_ARGUMENT));
  }

  @Test
  void tooLongName_isRefused() {
    assertThatThrownBy(() -> VmConfig.withDefaults("a".repeat(64), 1, 512, "micro", "auto", null, null, null, null, null))
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
  void theSameHostPortTwice_isRefused() {
    assertThatThrownBy(() -> new VmConfig("a", 1, 512, "micro", "auto",
            java.util.List.of(PortForward.parse("8080:80"), PortForward.parse("8080:81")), null, null, null, null))
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
    assertThat(new VmConfig("a", 1, 512, "micro", "auto", null, java.util.Map.of("role", "web", "team.io/owner", "ops"), null, null, null).labels())
        .containsEntry("role", "web");
    assertThatThrownBy(() -> new VmConfig("a", 1, 512, "micro", "auto", null, java.util.Map.of("bad key", "x"), null, null, null))
        .hasMessageContaining("labels: key 'bad key' is not allowed");
    assertThatThrownBy(() -> new VmConfig("a", 1, 512, "micro", "auto", null, java.util.Map.of("role", "a/b"), null, null, null))
        .hasMessageContaining("labels: value 'a/b' of 'role' is not allowed");
  }

  @Test
  void disks_areChecked() {
    assertThatThrownBy(() -> new DiskConfig("Data", "", 10, false)).hasMessageContaining("disks.name 'Data' is not allowed");
    assertThatThrownBy(() -> new DiskConfig("data", "base.qcow2", 0, false)).hasMessageContaining("must be an absolute path");
    assertThatThrownBy(() -> new DiskConfig("data", "", 0, false)).hasMessage("disks[data] needs a base_image or a size_mib");
    assertThatThrownBy(() -> new VmConfig("a", 1, 512, "micro", "auto", null, null,
            java.util.List.of(new DiskConfig("d", "", 1, false), new DiskConfig("d", "", 2, true)), null, null))
        .hasMessage("disks: the name 'd' is given twice");
  }

  @Test
  void contradictoryTuning_isRefusedNamingTheFields() {
    assertThatThrownBy(() -> new VmConfig("a", 2, 512, "micro", "auto", null, null, null, new Tuning(false, false, java.util.List.of(0)), null))
        .hasMessage("cpu_pinning must name one host CPU per vCPU: 2 vCPUs, 1 CPUs given");
    assertThatThrownBy(() -> new VmConfig("a", 1, 513, "micro", "auto", null, null, null, new Tuning(false, true, null), null))
        .hasMessageContaining("multiple of 2 with hugepages");
    assertThatThrownBy(() -> new Tuning(false, false, java.util.List.of(-1))).hasMessageContaining("out of range");
  }

  @Test
  void unknownMachineOrFirmware_isRefused() {
    assertThatThrownBy(() -> new Platform("microvm", "bios")).hasMessageContaining("machine must be q35");
    assertThatThrownBy(() -> new Platform("q35", "coreboot")).hasMessage("firmware must be bios or uefi, got 'coreboot'");
    assertThat(new Platform("", "")).isEqualTo(Platform.DEFAULT);
  }

  @Test
  void unknownAccel_isRefused() {
    assertThatThrownBy(() -> new VmConfig("a", 1, 512, "micro", "hvf")).hasMessageContaining("accel must be auto, kvm or tcg");
  }
}
