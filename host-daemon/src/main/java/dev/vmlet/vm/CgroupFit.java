package dev.vmlet.vm;

import dev.vmlet.node.CgroupLimits;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;

/**
 * Refuses a VM that would not fit in the daemon's cgroup ({@link CgroupLimits}, read again at
 * each check: a limit can change under a running container) before anything is written or started,
 * so the kernel never has to kill the daemon's container for it.
 */
final class CgroupFit {
  /** What the daemon counts for itself when its resident size cannot be read. */
  static final long DAEMON_FALLBACK_MIB = 256;
  private final Path root;

  /** @param root where /proc and /sys/fs/cgroup are read ("/" on a real host) */
  CgroupFit(Path root) {
    this.root = root;
  }

  /**
   * @param running the VMs whose QEMU runs now (the one being started excluded)
   * @throws VmException FAILED_PRECONDITION naming the limit and what to do
   */
  void check(VmConfig config, Collection<VmRuntime> running) {
    CgroupLimits limits = CgroupLimits.read(root);
    if (limits.equals(CgroupLimits.NONE)) {
      return;
    }
    long others = running.stream().mapToLong(v -> v.record().config().memoryMib() + CgroupLimits.QEMU_OVERHEAD_MIB).sum();
    String why = limits.refusal(config.name(), config.memoryMib(), config.vcpus(), others, running.size(), daemonMib());
    if (why != null) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, why);
    }
  }

  private long daemonMib() {
    try {
      for (String l : Files.readAllLines(root.resolve("proc/self/status"))) {
        if (l.startsWith("VmRSS:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // counted as the fallback below
    }
    return DAEMON_FALLBACK_MIB;
  }
}
