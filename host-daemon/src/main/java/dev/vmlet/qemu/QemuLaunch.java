package dev.vmlet.qemu;

import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.VmConfig;
import java.nio.file.Path;
import java.util.List;
import dev.vmlet.spec.PciAddress;

/**
 * Everything {@link QemuCommandBuilder} turns into a command line: the config plus what was chosen
 * for it on this host.
 *
 * @param qemuBinary the qemu-system-x86_64 to run
 * @param accel the resolved accelerator, "kvm" or "tcg"
 * @param boot the kernel to boot directly, or null when firmware boots the first disk
 * @param forwards user-mode port forwards with their host ports chosen (none 0)
 * @param disks in order: the guest sees /dev/vda, /dev/vdb, ...
 * @param hugepagesMount the hugetlbfs mount when the config asks for hugepages, else null
 * @param firmware the OVMF files when the config asks for UEFI, else null
 * @param hostTscKhz the host's TSC frequency, 0 when unknown; see {@link HostTsc}
 * @param readOnlyDisks raw images attached read-only after the disks: the cloud-init seed, the agent bundle
 */
public record QemuLaunch(String qemuBinary, VmConfig config, String instanceId, String accel, BootImage boot,
    VmFiles files, List<PortForward> forwards, List<AttachedDisk> disks, Path hugepagesMount, Firmware firmware,
    long hostTscKhz, List<Path> readOnlyDisks, List<PciAddress> vfio, QemuSandbox.Confinement confinement) {
  public QemuLaunch {
    confinement = confinement == null ? QemuSandbox.Confinement.NONE : confinement;
    vfio = List.copyOf(vfio);
    readOnlyDisks = List.copyOf(readOnlyDisks);
    forwards = List.copyOf(forwards);
    disks = List.copyOf(disks);
  }

  /** Passing through exactly the config's GPUs (no companions found on the host). */
  public QemuLaunch(String qemuBinary, VmConfig config, String instanceId, String accel, BootImage boot, VmFiles files,
      List<PortForward> forwards, List<AttachedDisk> disks, Path hugepagesMount, Firmware firmware, long hostTscKhz,
      List<Path> readOnlyDisks) {
    this(qemuBinary, config, instanceId, accel, boot, files, forwards, disks, hugepagesMount, firmware, hostTscKhz, readOnlyDisks,
        config.gpus(), QemuSandbox.Confinement.NONE);
  }

  /** With these passed-through functions and no sandbox. */
  public QemuLaunch(String qemuBinary, VmConfig config, String instanceId, String accel, BootImage boot, VmFiles files,
      List<PortForward> forwards, List<AttachedDisk> disks, Path hugepagesMount, Firmware firmware, long hostTscKhz,
      List<Path> readOnlyDisks, List<PciAddress> vfio) {
    this(qemuBinary, config, instanceId, accel, boot, files, forwards, disks, hugepagesMount, firmware, hostTscKhz, readOnlyDisks,
        vfio, QemuSandbox.Confinement.NONE);
  }
}
