package dev.vmlet.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What the kernel counts for one QEMU process: CPU time (user + system, every thread) from
 * {@code /proc/PID/stat} and resident memory from {@code /proc/PID/status}. Read the way the
 * libvirt exporter's numbers come about (libvirt reads the same files), so the two compare.
 *
 * @param cpuSeconds user plus system time of all the process's threads
 * @param residentBytes VmRSS
 */
public record ProcStats(double cpuSeconds, long residentBytes) {
  /**
   * USER_HZ, the unit of the times in {@code /proc/PID/stat}: fixed at 100 in the kernel's ABI on
   * every architecture QEMU/KVM hosts run (x86, arm64), so there is no need to ask {@code getconf}.
   */
  static final double TICKS_PER_SECOND = 100.0;

  /** The process {@code pid} under {@code procRoot} ({@code /proc}); empty when it is gone or unreadable. */
  public static Optional<ProcStats> read(Path procRoot, long pid) {
    Path dir = procRoot.resolve(Long.toString(pid));
    try {
      return Optional.of(new ProcStats(cpuSeconds(Files.readString(dir.resolve("stat"))),
          residentBytes(Files.readString(dir.resolve("status")))));
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // exited between the listing and the read, or not a Linux /proc
    }
  }

  /**
   * utime and stime are fields 14 and 15; the second field (the command name, in parentheses) may
   * itself hold spaces and parentheses, so counting starts after the last ')'.
   */
  static double cpuSeconds(String stat) {
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // f[0] is field 3 (state): utime is f[11], stime f[12].
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND;
  }

  static long residentBytes(String status) {
    for (String line : status.split("\n")) {
      if (line.startsWith("VmRSS:")) {
        String v = line.substring("VmRSS:".length()).strip(); // "12345 kB"
        return Long.parseLong(v.substring(0, v.indexOf(' '))) * 1024;
      }
    }
    return 0; // a zombie has no VmRSS line
  }
}
