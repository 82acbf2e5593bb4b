package dev.vmlet.qemu;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Pins vCPU threads to host CPUs. QEMU has no option for it: the daemon asks QMP for each vCPU's
 * thread id and sets that thread's affinity with taskset.
 */
public final class CpuPinning {
  private CpuPinning() {}

  /** Refuses host CPUs this host does not have, before anything starts. */
  public static void check(List<Integer> pinning) {
    int host = Runtime.getRuntime().availableProcessors();
    for (int cpu : pinning) {
      if (cpu >= host) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION,
            "cpu_pinning: host CPU " + cpu + " is not available (this host offers CPUs 0-" + (host - 1) + ")");
      }
    }
  }

  /** Pins vCPU i to host CPU pinning[i]; nothing when the list is empty. */
  public static void apply(QmpClient qmp, List<Integer> pinning, Duration timeout) throws IOException {
    if (pinning.isEmpty()) {
      return;
    }
    for (JsonElement e : qmp.execute("query-cpus-fast", null, timeout).getAsJsonArray()) {
      JsonObject cpu = e.getAsJsonObject();
      int index = cpu.get("cpu-index").getAsInt();
      long thread = cpu.get("thread-id").getAsLong();
      if (index < pinning.size()) {
        taskset(pinning.get(index), thread);
      }
    }
  }

  private static void taskset(int cpu, long thread) throws IOException {
    Process p = new ProcessBuilder("taskset", "-pc", Integer.toString(cpu), Long.toString(thread))
        .redirectErrorStream(true).start();
    try {
      if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("taskset -pc " + cpu + " " + thread + " failed: " + new String(p.getInputStream().readAllBytes()).strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while pinning vCPU threads", e);
    }
  }
}
