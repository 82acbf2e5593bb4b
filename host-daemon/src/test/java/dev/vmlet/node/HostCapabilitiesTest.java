package dev.vmlet.node;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proc.FakeProcessRunner;
import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proto.v1.Capabilities;
import dev.vmlet.proto.v1.Missing;
import dev.vmlet.qemu.Accel;
import dev.vmlet.vfio.FakeKernel;
import dev.vmlet.vfio.PciBus;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The capability report against fake /etc, /proc, /dev, /usr and sysfs trees. */
class HostCapabilitiesTest {
  @TempDir Path root;
  private final FakeProcessRunner runner = new FakeProcessRunner();

  private Capabilities report(FakeKernel k, Accel accel) throws Exception {
    return new HostCapabilities(root, new PciBus(k.sys, k), "qemu-system-x86_64", () -> accel, runner).report();
  }

  private void file(String path, String text) throws Exception {
    Path p = root.resolve(path);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
  }

  private void tool(String name) throws Exception {
    file("usr/bin/" + name, "#!/bin/sh\n");
    root.resolve("usr/bin/" + name).toFile().setExecutable(true);
  }

  private static String fix(Capabilities c, String item) {
    return c.getMissingList().stream().filter(m -> m.getItem().equals(item)).map(Missing::getFix).findFirst().orElse(null);
  }

  @Test
  void aBareFedoraAmdHost_getsEveryMissingItem_withDnfCommandsAndTheAmdKernelParameter() throws Exception {
    file("etc/os-release", "NAME=\"Fedora Linux\"\nID=fedora\n");
    file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: AuthenticAMD\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\n");
    file("proc/meminfo", "MemTotal:       8388608 kB\n");
    tool("qemu-img");
    FakeKernel k = new FakeKernel(root); // sysfs with no PCI devices, no groups, no vfio-pci
    Capabilities c = report(k, new Accel("tcg", "/dev/kvm does not exist"));
    assertThat(c.getDistribution()).isEqualTo("fedora");
    assertThat(c.getHostCpus()).isEqualTo(2);
    assertThat(c.getHostMemoryMib()).isEqualTo(8192);
    assertThat(c.getQemuBinary()).isEmpty();
    assertThat(fix(c, "qemu-system-x86_64")).isEqualTo("dnf install -y qemu-system-x86-core");
    assertThat(fix(c, "qemu-img")).isNull();
    assertThat(c.getToolsList()).anySatisfy(t -> assertThat(t.getPath()).isEqualTo("/usr/bin/qemu-img"));
    assertThat(fix(c, "xorriso")).isEqualTo("dnf install -y xorriso");
    assertThat(fix(c, "UEFI firmware (OVMF)")).isEqualTo("dnf install -y edk2-ovmf");
    assertThat(fix(c, "KVM")).contains("modprobe kvm_amd");
    assertThat(fix(c, "IOMMU")).contains("amd_iommu=on iommu=pt").contains("grub2-mkconfig");
    assertThat(fix(c, "vfio-pci")).contains("modprobe vfio-pci");
    assertThat(fix(c, "hugepages")).contains("vm.nr_hugepages");
    assertThat(c.getPassthroughNote()).startsWith("no GPU on this host; no IOMMU; ").contains("fake sysfs only");
  }

  @Test
  void aReadyDebianIntelHost_missesNothing() throws Exception {
    file("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n");
    file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\n");
    file("proc/meminfo", "MemTotal:       1048576 kB\n");
    file("dev/kvm", "");
    file("usr/share/OVMF/OVMF_CODE_4M.fd", "");
    for (String t : new String[] {"qemu-system-x86_64", "qemu-img", "xorriso", "mmdebstrap", "ssh"}) {
      tool(t);
    }
    FakeKernel k = new FakeKernel(root).driver(PciBus.VFIO).device("0000:01:00.0", "0x030000", "0x10de", "nvidia", "1");
    file("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "512\n");
    file("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "500\n");
    Capabilities c = report(k, new Accel("kvm", "KVM probe guest ran in 40 ms"));
    assertThat(c.getMissingList()).isEmpty();
    assertThat(c.getKvmPresent()).isTrue();
    assertThat(c.getKvmWorks()).isTrue();
    assertThat(c.getOvmfList()).containsExactly("/usr/share/OVMF/OVMF_CODE_4M.fd");
    assertThat(c.getIommuGroups()).isEqualTo(1);
    assertThat(c.getHugepages2MTotal()).isEqualTo(512);
    assertThat(c.getHugepages2MFree()).isEqualTo(500);
    assertThat(c.getPassthroughNote()).isEqualTo(HostCapabilities.PASSTHROUGH_UNTESTED);
  }

  @Test
  void aKvmThatDoesNotRun_isMissingWithTheProbesReason() throws Exception {
    file("dev/kvm", "");
    FakeKernel k = new FakeKernel(root);
    Capabilities c = report(k, new Accel("tcg", "KVM probe failed (guest did not run within 3000 ms); using TCG"));
    assertThat(c.getMissingList()).anySatisfy(m -> {
      assertThat(m.getItem()).isEqualTo("working KVM");
      assertThat(m.getWhy()).contains("did not run within 3000 ms");
      assertThat(m.getFix()).contains("nested virtualisation");
    });
    assertThat(fix(c, "qemu-img")).contains("apt-get install -y qemu-utils | dnf install -y qemu-img");
  }

  @Test
  void theQemuFoundUnderTheRoot_isAskedItsVersion_withinABound() throws Exception {
    tool("qemu-system-x86_64");
    String qemu = root.resolve("usr/bin/qemu-system-x86_64").toString();
    runner.when(qemu, "--version").thenPrint("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright (c) 2003-2022\n");
    Capabilities c = report(new FakeKernel(root), new Accel("tcg", "TCG requested"));
    assertThat(c.getQemuBinary()).isEqualTo("/usr/bin/qemu-system-x86_64");
    assertThat(c.getQemuVersion()).isEqualTo("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)");
    assertThat(runner.calls()).singleElement().extracting(ProcessRequest::timeout).isEqualTo(HostCapabilities.VERSION_TIMEOUT);
  }

  @Test
  void aQemuThatDoesNotTellItsVersionInTime_leavesTheVersionEmpty_andTheReportComes() throws Exception {
    tool("qemu-system-x86_64");
    runner.when(root.resolve("usr/bin/qemu-system-x86_64").toString()).thenTimeOut();
    Capabilities c = report(new FakeKernel(root), new Accel("tcg", "TCG requested"));
    assertThat(c.getQemuBinary()).isEqualTo("/usr/bin/qemu-system-x86_64");
    assertThat(c.getQemuVersion()).isEmpty();
  }
}
