package dev.vmlet.vm;

import dev.vmlet.disk.Disks;
import dev.vmlet.net.HostPorts;
import dev.vmlet.qemu.Accel;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.qemu.AttachedDisk;
import dev.vmlet.qemu.CpuPinning;
import dev.vmlet.qemu.Firmware;
import dev.vmlet.qemu.Hugepages;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.qemu.VmFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything between a VM's config and its QEMU command line: the boot image, the accelerator,
 * host ports, disks, hugepages, firmware. Start and dry run go through the same checks; only a
 * start creates files.
 */
final class LaunchPlanner {
  /** The command line to run and what was chosen on the way. */
  record Plan(List<String> argv, Accel accel, List<PortForward> forwards) {}

  private final ImageResolver images;
  private final AccelProbe probe;
  private final Disks disks;
  private final Hugepages hugepages;
  private final String qemuBinary;

  LaunchPlanner(ImageResolver images, AccelProbe probe, Disks disks, Hugepages hugepages, String qemuBinary) {
    this.images = images;
    this.probe = probe;
    this.disks = disks;
    this.hugepages = hugepages;
    this.qemuBinary = qemuBinary;
  }

  /** The user's forwards plus guest port 22 on a free loopback port, unless the user forwards 22. */
  static List<PortForward> withSsh(List<PortForward> forwards) {
    boolean has22 = forwards.stream().anyMatch(f -> f.guestPort() == SSH_PORT && f.protocol().equals("tcp"));
    if (has22) {
      return forwards;
    }
    List<PortForward> out = new java.util.ArrayList<>(forwards);
    out.add(new PortForward("tcp", "127.0.0.1", 0, SSH_PORT));
    return out;
  }

  static final int SSH_PORT = 22;

  /**
   * @param create make the VM's disks and UEFI variables (a start); false for a dry run
   * @throws VmException when the host cannot run this config, saying why
   */
  Plan plan(VmConfig config, String instanceId, VmFiles files, boolean create) throws IOException {
    BootImage image = images.resolve(config.image());
    Accel accel;
    try {
      accel = probe.resolve(config.accel());
    } catch (IllegalStateException e) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, e.getMessage());
    }
    CpuPinning.check(config.tuning().cpuPinning());
    Path hugepagesMount = config.tuning().hugepages() ? hugepages.require(config.memoryMib()) : null;
    Firmware firmware = config.platform().firmware().equals("uefi") ? Firmware.find() : null;
    List<PortForward> forwards = HostPorts.resolve(withSsh(config.forwards()));
    List<AttachedDisk> attached;
    if (create) {
      attached = disks.prepare(config.disks(), files);
      if (firmware != null) {
        disks.ensureUefiVars(firmware.varsTemplate(), files.uefiVars());
      }
    } else {
      attached = disks.planned(config.disks(), files);
    }
    List<String> argv = QemuCommandBuilder.build(qemuBinary, config, instanceId, accel.name(), image.kernel(),
        image.initrd(), files, forwards, attached, hugepagesMount, firmware);
    return new Plan(argv, accel, forwards);
  }
}
