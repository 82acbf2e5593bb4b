package dev.vmlet.disk;

import dev.vmlet.qemu.AttachedDisk;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.StandardCopyOption;

/**
 * A VM's disks as qcow2 overlays in its state directory. Persistent disks are created on the first
 * start and kept; ephemeral ones are made anew on every start. Base images are only read.
 */
public final class Disks {
  private final QemuImg qemuImg;

  static final long MIN_BASE_BYTES = 1024 * 1024;

  public Disks(QemuImg qemuImg) {
    this.qemuImg = qemuImg;
  }

  /**
   * Checks every base image exists and is an image qemu-img can read.
   *
   * @throws VmException INVALID_ARGUMENT naming the disk and what is wrong
   */
  public void checkBases(List<DiskConfig> disks) {
    for (DiskConfig d : disks) {
      if (d.baseImage().isEmpty()) {
        continue;
      }
      Path base = Path.of(d.baseImage());
      if (!Files.isRegularFile(base) || !Files.isReadable(base)) {
        throw VmException.invalid("disks[" + d.name() + "].base_image " + base + " does not exist or is not a readable file");
      }
      long size;
      try {
        size = qemuImg.info(base).virtualSize();
      } catch (IOException e) {
        throw VmException.invalid("disks[" + d.name() + "].base_image " + base + " is not an image qemu-img can read: " + e.getMessage());
      }
      // qemu-img takes any file as a raw image; a text file is a mistake, not a disk.
      if (size < MIN_BASE_BYTES) {
        throw VmException.invalid("disks[" + d.name() + "].base_image " + base + " is " + size
            + " bytes, too small to be a disk image (at least 1 MiB); give a qcow2 or raw disk image");
      }
    }
  }

  /**
   * Every file QEMU reads for a base image: the image and its backing chain.
   *
   * @throws VmException FAILED_PRECONDITION when the chain cannot be read (a backing file gone)
   */
  public List<Path> baseChain(DiskConfig d) {
    Path base = Path.of(d.baseImage());
    List<Path> chain = new ArrayList<>(List.of(base));
    try {
      chain.addAll(qemuImg.info(base).backingFiles());
    } catch (IOException e) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION,
          "disks[" + d.name() + "].base_image " + base + ": cannot read its backing chain: " + e.getMessage());
    }
    return chain;
  }

  /** Makes the VM's own UEFI variable store from the firmware's template, once; later starts keep it. */
  public void ensureUefiVars(Path template, Path vars) throws IOException {
    if (Files.exists(vars)) {
      return;
    }
    Files.createDirectories(vars.getParent());
    Path tmp = vars.resolveSibling(vars.getFileName() + ".new");
    Files.deleteIfExists(tmp);
    qemuImg.convertToQcow2(template, tmp);
    Files.move(tmp, vars, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The files QEMU will get, without creating anything (for dry runs). */
  public List<AttachedDisk> planned(List<DiskConfig> disks, VmFiles files) {
    List<AttachedDisk> out = new ArrayList<>();
    for (DiskConfig d : disks) {
      out.add(new AttachedDisk(d.name(), files.disk(d.name())));
    }
    return out;
  }

  /** Creates what is missing, recreates ephemeral disks, and returns the disks for QEMU. */
  public List<AttachedDisk> prepare(List<DiskConfig> disks, VmFiles files) throws IOException {
    for (DiskConfig d : disks) {
      Path file = files.disk(d.name());
      if (Files.exists(file) && !d.ephemeral()) {
        continue;
      }
      Files.createDirectories(file.getParent());
      Path tmp = file.resolveSibling(file.getFileName() + ".new");
      Files.deleteIfExists(tmp);
      if (d.baseImage().isEmpty()) {
        qemuImg.create(tmp, null, null, d.sizeMib());
      } else {
        Path base = Path.of(d.baseImage());
        qemuImg.create(tmp, base, qemuImg.format(base), d.sizeMib());
      }
      // Renamed into place only when complete: a failed create never leaves a half disk.
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
    return planned(disks, files);
  }
}
