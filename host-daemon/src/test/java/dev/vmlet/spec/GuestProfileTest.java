package dev.vmlet.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** --os windows, --tpm and 9p shares: what a config may combine, and the message when it may not. */
class GuestProfileTest {
  private static Platform windows(String machine, String firmware, String agentPort) {
    return new Platform(machine, firmware, agentPort, "windows", false, "");
  }

  @Test
  void windows_withTheMicroImageOrADirectKernel_isRefusedSayingWhatToBoot() {
    assertThatThrownBy(() -> VmConfig.builder("w").platform(windows("", "", "")).build()).isInstanceOf(VmException.class)
        .hasMessage("os windows boots a Windows disk image through UEFI (--image /path/windows.qcow2, or image disk with a base disk"
            + " first); image 'micro' is a Linux image");
    assertThatThrownBy(() -> VmConfig.builder("w").platform(windows("", "", "")).directBoot(new DirectBoot("/k", "", "")).build())
        .hasMessageEndingWith("image 'kernel' is a Linux direct kernel boot");
    assertThatThrownBy(() -> VmConfig.builder("w").platform(windows("", "", "")).image("debian").build())
        .hasMessageEndingWith("image 'debian' is a Linux image");
  }

  @Test
  void windows_refusesBiosMicrovmTheVirtioAgentPortCloudInitAndShares() {
    assertThatThrownBy(() -> windows("", "bios", "")).hasMessageStartingWith("os windows boots with UEFI and Secure Boot");
    assertThatThrownBy(() -> windows("microvm", "", "")).hasMessage("os windows needs machine q35 (Windows has no virtio-mmio drivers)");
    assertThatThrownBy(() -> windows("", "", "virtio")).hasMessageStartingWith("os windows: the Windows agent opens its COM port");
    assertThatThrownBy(() -> VmConfig.builder("w").image("/srv/win.qcow2").platform(windows("", "", ""))
        .cloudInit(new CloudInitConfig("#cloud-config\n", "")).build()).hasMessageStartingWith("cloud_init is for Linux cloud images");
    assertThatThrownBy(() -> VmConfig.builder("w").image("/srv/win.qcow2").platform(windows("", "", ""))
        .shares(List.of(new Share("/srv/w", "/mnt/w", false))).build()).hasMessageStartingWith("shares are mounted by Linux guests only");
  }

  @Test
  void driversIso_onlyWithWindows_andAbsolute() {
    assertThatThrownBy(() -> new Platform("", "", "", "linux", false, "/srv/virtio-win.iso"))
        .hasMessageStartingWith("drivers_iso goes with os windows");
    assertThatThrownBy(() -> new Platform("", "", "", "windows", false, "virtio-win.iso"))
        .hasMessage("drivers_iso must be the absolute path of an ISO on the daemon's host, got 'virtio-win.iso'");
  }

  @Test
  void tpm_onALinuxGuest_needsQ35() {
    assertThat(new Platform("q35", "bios", "virtio", "", true, "").tpm()).isTrue();
    assertThat(Platform.DEFAULT.tpm()).isFalse();
    assertThatThrownBy(() -> new Platform("microvm", "bios", "virtio", "linux", true, ""))
        .hasMessageStartingWith("tpm needs machine q35");
  }

  @Test
  void unknownOs_isRefusedNamingTheChoices() {
    assertThatThrownBy(() -> new Platform("", "", "", "macos", false, "")).hasMessage("os must be linux or windows, got 'macos'");
  }

  @Test
  void a9pShare_onTheMicroOrDebianImage_isRefused_becauseTheirKernelHasNo9p_butMicroGenericTakesIt() {
    List<Share> ninep = List.of(new Share("/srv/w", "/mnt/w", false, "9p"));
    assertThatThrownBy(() -> VmConfig.builder("m").shares(ninep).build())
        .hasMessage("shares: type 9p needs a guest kernel with 9p, and the micro image's kernel (Debian's cloud kernel) has none;"
            + " use virtiofs (the default), image micro-generic (Debian's generic kernel, with 9p), or 9p with your own image"
            + " or kernel");
    assertThatThrownBy(() -> VmConfig.builder("m").image("debian").shares(ninep).build()).hasMessageContaining("the debian image's kernel");
    assertThat(VmConfig.builder("m").image("micro-generic").shares(ninep).build().image()).isEqualTo("micro-generic");
    assertThat(VmConfig.builder("m").image("/srv/own.qcow2").shares(ninep).build().shares().get(0).ninep()).isTrue();
    assertThatThrownBy(() -> new Share("/srv/w", "/mnt/w", false, "nfs")).hasMessage("shares: type must be virtiofs or 9p, got 'nfs'");
  }

  @Test
  void builtInImages_onlyMicroGenericMounts9p_andAreNamedAsVmSpecsNameThem() {
    assertThat(BuiltInImage.named("micro-generic")).contains(BuiltInImage.MICRO_GENERIC);
    assertThat(BuiltInImage.named("disk")).isEmpty();
    assertThat(Arrays.stream(BuiltInImage.values()).filter(BuiltInImage::mounts9p)).containsExactly(BuiltInImage.MICRO_GENERIC);
    for (BuiltInImage b : BuiltInImage.values()) {
      assertThat(VmConfig.builder("m").image(b.imageName()).build().image()).isEqualTo(b.imageName());
    }
  }
}
