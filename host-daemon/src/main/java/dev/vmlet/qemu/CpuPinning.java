package dev.vmlet.qemu;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessRunner;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * Pins vCPU threads to host CPUs. QEMU has no option for it: the daemon asks QMP for each vCPU's
 * thread id and sets that thread's affinity with taskset.
 */
public final class CpuPinning {
  static final Duration TASKSET_TIMEOUT = Duration.ofSeconds(10);

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
    apply(qmp, pinning, timeout, ProcessRunner.system());
  }

  /** As {@link #apply(QmpClient, List, Duration)}, with taskset run by {@code runner}. */
  public static void apply(QmpClient qmp, List<Integer> pinning, Duration timeout, ProcessRunner runner) throws IOException {
    if (pinning.isEmpty()) {
      return;
    }
    for (JsonElement e : qmp.execute("query-cpus-fast", null, timeout).getAsJsonArray()) {
      JsonObject cpu = e.getAsJsonObject();
      int index = cpu.get("cpu-index").getAsInt();
      long thread = cpu.get("thread-id").getAsLong();
      if (index < pinning.size()) {
        runner.run(ProcessRequest.of(TASKSET_TIMEOUT, "taskset", "-pc", Integer.toString(pinning.get(index)), Long.toString(thread))
            .withStderrMerged()).requireSuccess();
      }
    }
  }
}
