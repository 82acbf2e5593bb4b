package dev.vmlet.vm;

import dev.vmlet.disk.Disks;
import dev.vmlet.qemu.AttachedDisk;
import dev.vmlet.qemu.Firmware;
import dev.vmlet.qemu.QemuUser;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.Share;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What QEMU, run as its own unprivileged user by a root daemon, must be able to open: handed over
 * to that user where QEMU writes, and checked as that user before QEMU starts, so that a directory
 * it cannot get through is named with the fix instead of QEMU's bare "Permission denied".
 */
final class QemuUserReach {
  private final Disks disks;

  QemuUserReach(Disks disks) {
    this.disks = disks;
  }

  /**
   * Gives QEMU's user what QEMU writes or creates: the run directory (sockets, pidfile), the VM's
   * disks and UEFI variables, and the agent token it reads (0600). Never vm.json or the SSH keys.
   */
  static void handOver(QemuUser user, VmFiles files, List<AttachedDisk> disks, Firmware firmware) throws IOException {
    user.handOver(files.runDir());
    for (AttachedDisk d : disks) {
      user.handOver(d.file());
    }
    if (firmware != null) {
      user.handOver(files.uefiVars());
    }
    user.handOver(files.agentToken());
    user.handOver(files.identity());
  }

  /**
   * Every file QEMU opens, checked as QEMU's user before it starts.
   *
   * @throws VmException FAILED_PRECONDITION naming the first file it cannot reach, and the fix
   */
  void check(QemuUser user, VmConfig config, BootImage boot, VmFiles files, List<AttachedDisk> disks,
      Firmware firmware, List<Path> readOnly) {
    List<String> denied = new ArrayList<>(inputsDenied(user, config, boot, firmware, readOnly));
    denied.add(user.denied(files.runDir(), true, "the VM's run directory"));
    for (AttachedDisk d : disks) {
      denied.add(user.denied(d.file(), true, "disk " + d.name()));
    }
    if (firmware != null) {
      denied.add(user.denied(files.uefiVars(), true, "the UEFI variables"));
    }
    denied.add(user.denied(files.agentToken(), false, "the agent token"));
    denied.add(user.denied(files.identity(), false, "the VM's identity"));
    refuseFirst(denied);
  }

  /**
   * What a VM reads that exists before any start: kernel, initrd, base images and their chains,
   * firmware, read-only disks, the drivers ISO, and the directories of 9p shares (read and write).
   */
  void checkInputs(QemuUser user, VmConfig config, BootImage boot, Firmware firmware, List<Path> readOnly) {
    refuseFirst(inputsDenied(user, config, boot, firmware, readOnly));
  }

  private List<String> inputsDenied(QemuUser user, VmConfig config, BootImage boot, Firmware firmware, List<Path> readOnly) {
    List<String> denied = new ArrayList<>();
    if (boot != null) {
      denied.add(user.denied(boot.kernel(), false, "the kernel"));
      if (boot.initrd() != null) {
        denied.add(user.denied(boot.initrd(), false, "the initrd"));
      }
    }
    for (DiskConfig d : config.disks()) {
      if (!d.baseImage().isEmpty()) {
        List<Path> chain = disks.baseChain(d);
        denied.add(user.denied(chain.get(0), false, "the base image of disk " + d.name()));
        for (Path backing : chain.subList(1, chain.size())) {
          denied.add(user.denied(backing, false, "a backing file of disk " + d.name() + "'s base image"));
        }
      }
    }
    if (firmware != null) {
      denied.add(user.denied(firmware.code(), false, "the UEFI firmware"));
    }
    for (Path p : readOnly) {
      denied.add(user.denied(p, false, "the read-only disk"));
    }
    if (!config.platform().driversIso().isEmpty()) {
      denied.add(user.denied(Path.of(config.platform().driversIso()), false, "the drivers ISO"));
    }
    denied.addAll(sharesDenied(user, config));
    return denied;
  }

  /** The directories of 9p shares, which QEMU itself serves as its user (read, and write unless read-only). */
  void checkShares(QemuUser user, VmConfig config) {
    refuseFirst(sharesDenied(user, config));
  }

  private static List<String> sharesDenied(QemuUser user, VmConfig config) {
    List<String> denied = new ArrayList<>();
    for (Share s : config.shares()) {
      if (s.ninep()) {
        denied.add(user.denied(Path.of(s.hostPath()), !s.readOnly(), "the 9p share"));
      }
    }
    return denied;
  }

  private static void refuseFirst(List<String> denied) {
    denied.stream().filter(Objects::nonNull).findFirst().ifPresent(why -> {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, why);
    });
  }
}
