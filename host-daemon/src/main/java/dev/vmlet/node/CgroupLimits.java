package dev.vmlet.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The memory and CPU limits of the cgroup the daemon runs in (its container's, its systemd unit's),
 * read under an injectable root (a fake tree in tests). The daemon's QEMU processes are in the same
 * cgroup, so a VM that does not fit in the memory limit would get the whole container killed by the
 * kernel; the daemon refuses it instead, naming the limit ({@link #refusal}).
 *
 * <p>cgroup v2: {@code memory.max} and {@code cpu.max} of the daemon's cgroup (from
 * {@code /proc/self/cgroup}) and of each ancestor, the smallest counting; in a cgroup namespace (a
 * container) that is {@code /sys/fs/cgroup} itself. cgroup v1: {@code memory.limit_in_bytes} and
 * {@code cpu.cfs_quota_us}/{@code cpu.cfs_period_us} the same way under {@code memory/} and
 * {@code cpu/} (Docker mounts the container's own cgroup there).
 *
 * @param memoryBytes the memory limit, or {@link Long#MAX_VALUE} when there is none
 * @param memoryFile the file that set it ("" when none)
 * @param cpus the CPU limit in CPUs (quota / period), or 0 when there is none
 * @param cpuFile the file that set it ("" when none)
 */
public record CgroupLimits(long memoryBytes, String memoryFile, double cpus, String cpuFile) {
  /** What one QEMU takes beyond its guest's memory (its own code, device models, TCG's code cache). */
  public static final long QEMU_OVERHEAD_MIB = 160;
  /** v1 writes "no limit" as the largest page-aligned long; anything above this counts as none. */
  private static final long V1_UNLIMITED = 1L << 60;

  public static final CgroupLimits NONE = new CgroupLimits(Long.MAX_VALUE, "", 0, "");

  /** Reads the limits under {@code root} ("/" on a real host); none found is {@link #NONE}. */
  public static CgroupLimits read(Path root) {
    try {
      Path self = root.resolve("proc/self/cgroup");
      if (!Files.isRegularFile(self)) {
        return NONE;
      }
      Path fs = root.resolve("sys/fs/cgroup");
      if (Files.isRegularFile(fs.resolve("cgroup.controllers"))) {
        String path = controllerPath(Files.readAllLines(self), "");
        return v2(dirs(fs, path));
      }
      List<String> lines = Files.readAllLines(self);
      return v1(dirs(controllerDir(fs, "memory"), controllerPath(lines, "memory")),
          dirs(controllerDir(fs, "cpu"), controllerPath(lines, "cpu")));
    } catch (IOException | RuntimeException e) {
      // A limit that cannot be read is not one the daemon can respect; the kernel still enforces it.
      return NONE;
    }
  }

  private static CgroupLimits v2(List<Path> dirs) throws IOException {
    long mem = Long.MAX_VALUE;
    String memFile = "";
    double cpus = 0;
    String cpuFile = "";
    for (Path d : dirs) {
      Path m = d.resolve("memory.max");
      if (Files.isRegularFile(m)) {
        String v = Files.readString(m).strip();
        if (!v.equals("max") && Long.parseLong(v) < mem) {
          mem = Long.parseLong(v);
          memFile = m.toString();
        }
      }
      Path c = d.resolve("cpu.max");
      if (Files.isRegularFile(c)) {
        String[] v = Files.readString(c).strip().split("\\s+");
        if (!v[0].equals("max")) {
          double n = Double.parseDouble(v[0]) / Double.parseDouble(v.length > 1 ? v[1] : "100000");
          if (cpus == 0 || n < cpus) {
            cpus = n;
            cpuFile = c.toString();
          }
        }
      }
    }
    return new CgroupLimits(mem, memFile, cpus, cpuFile);
  }

  private static CgroupLimits v1(List<Path> memDirs, List<Path> cpuDirs) throws IOException {
    long mem = Long.MAX_VALUE;
    String memFile = "";
    for (Path d : memDirs) {
      Path m = d.resolve("memory.limit_in_bytes");
      if (Files.isRegularFile(m)) {
        long v = Long.parseLong(Files.readString(m).strip());
        if (v < V1_UNLIMITED && v < mem) {
          mem = v;
          memFile = m.toString();
        }
      }
    }
    double cpus = 0;
    String cpuFile = "";
    for (Path d : cpuDirs) {
      Path q = d.resolve("cpu.cfs_quota_us");
      Path p = d.resolve("cpu.cfs_period_us");
      if (Files.isRegularFile(q) && Files.isRegularFile(p)) {
        long quota = Long.parseLong(Files.readString(q).strip());
        if (quota > 0) {
          double n = quota / Double.parseDouble(Files.readString(p).strip());
          if (cpus == 0 || n < cpus) {
            cpus = n;
            cpuFile = q.toString();
          }
        }
      }
    }
    return new CgroupLimits(mem, memFile, cpus, cpuFile);
  }

  /** v1 mounts a controller alone (memory) or with others (cpu,cpuacct); the name may be a link. */
  private static Path controllerDir(Path fs, String controller) throws IOException {
    Path plain = fs.resolve(controller);
    if (Files.isDirectory(plain)) {
      return plain;
    }
    try (var s = Files.list(fs)) {
      return s.filter(p -> List.of(p.getFileName().toString().split(",")).contains(controller)).findFirst().orElse(plain);
    }
  }

  /** The cgroup path of a v1 controller, or with "" the v2 path ("0::/a/b"). */
  private static String controllerPath(List<String> lines, String controller) {
    for (String l : lines) {
      String[] f = l.split(":", 3);
      if (f.length == 3 && (controller.isEmpty() ? f[0].equals("0") && f[1].isEmpty()
          : List.of(f[1].split(",")).contains(controller))) {
        return f[2];
      }
    }
    return "/";
  }

  /**
   * The daemon's cgroup directory and its ancestors up to the mount. In a cgroup namespace, or with
   * Docker's v1 mounts, the path in /proc/self/cgroup is not under the mount: the mount itself is
   * the daemon's cgroup then.
   */
  private static List<Path> dirs(Path mount, String path) {
    List<Path> out = new ArrayList<>();
    Path d = mount.resolve(path.replaceFirst("^/+", ""));
    if (!Files.isDirectory(d)) {
      d = mount;
    }
    for (; d != null && d.startsWith(mount); d = d.getParent()) {
      out.add(d);
    }
    return out;
  }

  /**
   * Why a VM of {@code memoryMib} and {@code vcpus} must not start here, or null when it fits: the
   * memory limit must hold it with its QEMU's overhead beside {@code othersMib} (the running VMs,
   * with theirs) and {@code daemonMib} (the daemon itself); its vCPUs must not be more than the
   * CPU limit allows, rounded up.
   */
  public String refusal(String vm, long memoryMib, int vcpus, long othersMib, int others, long daemonMib) {
    if (memoryBytes != Long.MAX_VALUE) {
      long limitMib = memoryBytes / (1024 * 1024);
      long need = memoryMib + QEMU_OVERHEAD_MIB;
      long taken = othersMib + daemonMib;
      if (need + taken > limitMib) {
        return "VM '" + vm + "' needs " + memoryMib + " MiB + " + QEMU_OVERHEAD_MIB + " MiB for its QEMU, but this daemon's"
            + " cgroup allows " + limitMib + " MiB (" + memoryFile + ") and " + taken + " MiB of it are taken (" + others
            + " running VM(s) with their QEMU, and the daemon, " + daemonMib + " MiB); the kernel would kill the daemon's"
            + " container. Give the VM less memory, stop another VM, or raise the limit (docker service update"
            + " --limit-memory, resources.limits.memory, MemoryMax=)";
      }
    }
    if (cpus > 0 && vcpus > Math.ceil(cpus)) {
      return "VM '" + vm + "' has " + vcpus + " vCPUs, but this daemon's cgroup allows " + String.format(Locale.ROOT, "%.2f", cpus)
          + " CPUs (" + cpuFile + "); give it at most " + (int) Math.ceil(cpus) + " (--cpus) or raise the limit"
          + " (docker service update --limit-cpu, resources.limits.cpu, CPUQuota=)";
    }
    return null;
  }
}
