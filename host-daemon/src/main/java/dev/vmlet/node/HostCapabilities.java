package dev.vmlet.node;

import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessResult;
import dev.vmlet.proc.ProcessRunner;
import dev.vmlet.proto.v1.Capabilities;
import dev.vmlet.proto.v1.Missing;
import dev.vmlet.proto.v1.Tool;
import dev.vmlet.qemu.Accel;
import dev.vmlet.vfio.PciBus;
import dev.vmlet.vfio.PciDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;

/**
 * What this host can do for VMs, read under injectable roots (a fake tree in tests): {@code root}
 * for /dev, /proc, /etc, /usr and the tools, {@code bus} for sysfs. Each missing item comes with the
 * command that fixes it on this distribution. The QEMU found there is asked its version through
 * {@code runner}.
 */
public final class HostCapabilities {
  static final List<String> PATH = List.of("usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin");
  static final List<String> OVMF = List.of("usr/share/OVMF/OVMF_CODE_4M.fd", "usr/share/OVMF/OVMF_CODE.fd",
      "usr/share/edk2/ovmf/OVMF_CODE.fd", "usr/share/edk2/x64/OVMF_CODE.fd");
  static final String PASSTHROUGH_UNTESTED = "GPU passthrough (bind, unbind, give back) is tested against a fake sysfs only;"
      + " it has not run on real hardware with vmlet yet";
  static final Duration VERSION_TIMEOUT = Duration.ofSeconds(10);

  private final Path root;
  private final PciBus bus;
  private final String qemuBinary;
  private final Supplier<Accel> accel;
  private final ProcessRunner runner;

  public HostCapabilities(Path root, PciBus bus, String qemuBinary, Supplier<Accel> accel) {
    this(root, bus, qemuBinary, accel, ProcessRunner.system());
  }

  public HostCapabilities(Path root, PciBus bus, String qemuBinary, Supplier<Accel> accel, ProcessRunner runner) {
    this.root = root;
    this.bus = bus;
    this.qemuBinary = qemuBinary;
    this.accel = accel;
    this.runner = runner;
  }

  public Capabilities report() throws IOException {
    Distro distro = Distro.detect(root);
    Capabilities.Builder c = Capabilities.newBuilder().setDistribution(
        Files.isRegularFile(root.resolve("etc/os-release")) ? Distro.field(Files.readString(root.resolve("etc/os-release")), "ID") : "");
    String qemu = tool(c, distro, Path.of(qemuBinary).getFileName().toString(), "qemu-system-x86_64", "runs the VMs");
    c.setQemuBinary(qemu);
    if (!qemu.isEmpty()) {
      c.setQemuVersion(version(root.resolve(qemu.substring(1)).toString()));
    }
    tool(c, distro, "qemu-img", "qemu-img", "makes qcow2 disks and snapshots");
    tool(c, distro, "xorriso", "xorriso", "makes the cloud-init seed ISO");
    tool(c, distro, "mmdebstrap", "mmdebstrap", "builds the Debian image (vmlet image build debian)");
    tool(c, distro, "ssh", "ssh", "vmlet ssh");
    kvm(c);
    for (String f : OVMF) {
      if (Files.isReadable(root.resolve(f))) {
        c.addOvmf("/" + f);
      }
    }
    if (c.getOvmfCount() == 0) {
      c.addMissing(missing("UEFI firmware (OVMF)", "needed for --firmware uefi and for GPU passthrough", distro.install("ovmf")));
    }
    iommu(c, distro);
    hugepages(c);
    c.setHostCpus(cpus());
    c.setHostMemoryMib(memoryMib());
    return c.build();
  }

  private String tool(Capabilities.Builder c, Distro distro, String name, String need, String purpose) {
    String found = "";
    for (String dir : PATH) {
      Path p = root.resolve(dir).resolve(name);
      if (Files.isExecutable(p) && !Files.isDirectory(p)) {
        found = "/" + root.relativize(p);
        break;
      }
    }
    c.addTools(Tool.newBuilder().setName(name).setPath(found).setPurpose(purpose));
    if (found.isEmpty()) {
      c.addMissing(missing(name, purpose, distro.install(need)));
    }
    return found;
  }

  private void kvm(Capabilities.Builder c) {
    c.setKvmPresent(Files.exists(root.resolve("dev/kvm")));
    Accel a = accel.get();
    c.setAccel(a.name().equals("kvm") ? dev.vmlet.proto.v1.Accel.ACCEL_KVM : dev.vmlet.proto.v1.Accel.ACCEL_TCG)
        .setAccelReason(a.reason()).setKvmWorks(a.name().equals("kvm"));
    if (!c.getKvmPresent()) {
      c.addMissing(missing("KVM", "/dev/kvm does not exist, so VMs run under TCG (emulation, many times slower)",
          "enable virtualisation (VT-x/AMD-V) in the firmware and load the module: modprobe " + kvmModule()));
    } else if (!c.getKvmWorks()) {
      c.addMissing(missing("working KVM", a.reason(),
          "on a VM host, enable nested virtualisation for this machine; VMs use TCG meanwhile"));
    }
  }

  private void iommu(Capabilities.Builder c, Distro distro) throws IOException {
    c.setIommu(bus.iommuEnabled()).setIommuGroups(bus.iommuGroups()).setVfioPci(bus.driverLoaded(PciBus.VFIO));
    boolean intel = cpuinfo().contains("GenuineIntel");
    if (!c.getIommu()) {
      String update = distro == Distro.DNF ? "grub2-mkconfig -o /boot/grub2/grub.cfg" : "update-grub";
      c.addMissing(missing("IOMMU", "no IOMMU groups: GPUs cannot be passed through",
          "enable " + (intel ? "VT-d" : "AMD-Vi") + " in the firmware, add " + (intel ? "intel_iommu=on" : "amd_iommu=on")
              + " iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, run " + update + " and reboot"));
    }
    if (!c.getVfioPci()) {
      c.addMissing(missing("vfio-pci", "the vfio-pci driver is not loaded: GPUs cannot be passed through",
          "modprobe vfio-pci; echo vfio-pci > /etc/modules-load.d/vfio.conf"));
    }
    boolean gpu = bus.list().stream().anyMatch(PciDevice::isDisplay);
    c.setPassthroughNote((gpu ? "" : "no GPU on this host; ") + (c.getIommu() ? "" : "no IOMMU; ") + PASSTHROUGH_UNTESTED);
  }

  private void hugepages(Capabilities.Builder c) throws IOException {
    Path h = bus.root().resolve("kernel/mm/hugepages/hugepages-2048kB");
    c.setHugepages2MTotal(number(h.resolve("nr_hugepages"))).setHugepages2MFree(number(h.resolve("free_hugepages")));
    if (c.getHugepages2MTotal() == 0) {
      c.addMissing(missing("hugepages", "none reserved: VMs with --hugepages cannot start",
          "sysctl vm.nr_hugepages=N (N pages of 2 MiB; keep it in /etc/sysctl.d/hugepages.conf)"));
    }
  }

  private static long number(Path p) throws IOException {
    return Files.isRegularFile(p) ? Long.parseLong(Files.readString(p).strip()) : 0;
  }

  private String kvmModule() {
    try {
      return cpuinfo().contains("GenuineIntel") ? "kvm_intel" : "kvm_amd";
    } catch (IOException e) {
      return "kvm_intel (or kvm_amd)";
    }
  }

  private String cpuinfo() throws IOException {
    Path p = root.resolve("proc/cpuinfo");
    return Files.isRegularFile(p) ? Files.readString(p) : "";
  }

  private int cpus() throws IOException {
    return (int) cpuinfo().lines().filter(l -> l.startsWith("processor")).count();
  }

  private long memoryMib() throws IOException {
    Path p = root.resolve("proc/meminfo");
    if (!Files.isRegularFile(p)) {
      return 0;
    }
    for (String l : Files.readAllLines(p)) {
      if (l.startsWith("MemTotal:")) {
        return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024;
      }
    }
    return 0;
  }

  private static Missing missing(String item, String why, String fix) {
    return Missing.newBuilder().setItem(item).setWhy(why).setFix(fix).build();
  }

  /** The first line {@code qemu --version} prints, or "" when it does not answer in time or fails. */
  private String version(String qemu) {
    try {
      ProcessResult r = runner.run(ProcessRequest.of(VERSION_TIMEOUT, qemu, "--version").withStderrMerged());
      return r.succeeded() ? r.stdout().lines().findFirst().orElse("").strip() : "";
    } catch (IOException e) {
      return "";
    }
  }
}
