package dev.vmlet.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the host has free for VMs now: its CPUs and memory (MemTotal and MemAvailable of {@code
 * proc/meminfo} under {@code root}). Cheap enough to read on every DescribeNode.
 */
public record HostLoad(int cpus, long memoryTotalMib, long memoryAvailableMib) {
  /** Reads it; a missing meminfo gives zeros (a fake root in tests). */
  public static HostLoad read(Path root) throws IOException {
    long total = 0;
    long available = 0;
    Path p = root.resolve("proc/meminfo");
    if (Files.isRegularFile(p)) {
      for (String l : Files.readAllLines(p)) {
        if (l.startsWith("MemTotal:")) {
          total = kib(l) / 1024;
        } else if (l.startsWith("MemAvailable:")) {
          available = kib(l) / 1024;
        }
      }
    }
    return new HostLoad(Runtime.getRuntime().availableProcessors(), total, available);
  }

  private static long kib(String line) {
    return Long.parseLong(line.replaceAll("[^0-9]", ""));
  }
}
