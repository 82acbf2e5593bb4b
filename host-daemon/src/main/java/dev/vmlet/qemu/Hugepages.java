package dev.vmlet.qemu;

import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Finds 2 MiB hugepages for a VM, under an injectable root so tests need no real ones. */
public final class Hugepages {
  private final Path root;

  public Hugepages(Path root) {
    this.root = root;
  }

  /**
   * Checks that {@code memoryMib} of 2 MiB hugepages are free and hugetlbfs is mounted.
   *
   * @return the hugetlbfs mount point for QEMU's mem-path
   * @throws VmException FAILED_PRECONDITION saying what to configure
   */
  public Path require(long memoryMib) {
    long needed = memoryMib / 2;
    long free = readLong(root.resolve("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")).orElse(0L);
    if (free < needed) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "hugepages: the VM needs " + needed
          + " free 2 MiB hugepages, the host has " + free + "; reserve them with: echo " + needed
          + " > /proc/sys/vm/nr_hugepages (or add hugepages=" + needed + " to the kernel command line)");
    }
    return mountPoint().orElseThrow(() -> new VmException(VmException.Kind.FAILED_PRECONDITION,
        "hugepages: no hugetlbfs is mounted; mount one with: mount -t hugetlbfs none /dev/hugepages"));
  }

  private Optional<Path> mountPoint() {
    try {
      for (String line : Files.readAllLines(root.resolve("proc/mounts"))) {
        String[] f = line.split(" ");
        if (f.length > 2 && f[2].equals("hugetlbfs")) {
          return Optional.of(Path.of(f[1]));
        }
      }
    } catch (IOException e) {
      // no mount table: no hugetlbfs
    }
    return Optional.empty();
  }

  private static Optional<Long> readLong(Path p) {
    try {
      return Optional.of(Long.parseLong(Files.readString(p).strip()));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }
}
