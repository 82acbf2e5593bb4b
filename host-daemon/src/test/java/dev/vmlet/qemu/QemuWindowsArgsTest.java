package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.Platform;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.VmConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The whole QEMU command line of a Windows guest (--os windows), against golden files with one
 * argument per line (src/test/resources/dev/vmlet/qemu/windows-*.args): no Windows guest can boot
 * here, so this and WindowsProfileIT (QEMU and swtpm running it under TCG) are what is tested.
 */
class QemuWindowsArgsTest {
  private static final VmFiles FILES = new VmFiles(Path.of("/run/vmlet/vms/win11"), Path.of("/var/lib/vmlet/vms/win11"));
  private static final Firmware SECURE = new Firmware(Path.of("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"),
      Path.of("/usr/share/OVMF/OVMF_VARS_4M.ms.fd"), true);
  private static final QemuSandbox.Confinement ROOT_DAEMON = new QemuSandbox.Confinement(QemuSandbox.OPTIONS,
      new QemuUser(QemuSandbox.USER, 996, 993, List.of(994)));

  private static VmConfig windows() {
    return VmConfig.builder("win11").vcpus(4).memoryMib(4096).image("/srv/images/win11.qcow2")
        .platform(new Platform("", "", "", "windows", false, "/srv/iso/virtio-win.iso")).build();
  }

  private static List<String> args(String accel) {
    VmConfig c = windows();
    return QemuCommandBuilder.build(new QemuLaunch("/usr/bin/qemu-system-x86_64", c, "5f0c-11aa", accel, null, FILES,
        List.of(new PortForward("tcp", "127.0.0.1", 33389, 3389)),
        List.of(new AttachedDisk("root", FILES.disk("root"))), null, SECURE, 2_445_424, List.of(), List.of(), ROOT_DAEMON));
  }

  @Test
  void windowsUnderTcg_matchesTheGoldenCommandLine() throws IOException {
    assertThat(args("tcg")).containsExactlyElementsOf(golden("windows-tcg.args"));
  }

  @Test
  void windowsUnderKvm_addsTheEnlightenmentsThatNeedKvm() throws IOException {
    assertThat(args("kvm")).containsExactlyElementsOf(golden("windows-kvm.args"));
  }

  @Test
  void windowsProfile_impliesUefiATpmAndTheAgentOnCom2() {
    Platform p = windows().platform();
    assertThat(p.firmware()).isEqualTo("uefi");
    assertThat(p.tpm()).isTrue();
    assertThat(p.agentPort()).isEqualTo("serial");
    assertThat(windows().attachesSeed()).isFalse();
    assertThat(windows().disks()).extracting(DiskConfig::name).containsExactly("root");
  }

  private static List<String> golden(String name) throws IOException {
    try (InputStream in = QemuWindowsArgsTest.class.getResourceAsStream(name)) {
      assertThat(in).as("golden file " + name).isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().filter(l -> !l.startsWith("#")).toList();
    }
  }
}
