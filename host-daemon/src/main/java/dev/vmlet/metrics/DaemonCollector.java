package dev.vmlet.metrics;

import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The daemon's own counters that live in the classes that enforce them (the access check's stream
 * limit, the audit log, the VM store): read at scrape time from those classes, so the numbers are
 * the ones enforced and nothing is counted twice.
 *
 * @param openStreams caller name to its open Exec, RunCommandLine, OpenConsole, PushFile, PullFile and WatchVms streams
 * @param refused method to how many of its calls the audit log recorded as PERMISSION_DENIED
 * @param vmStateWriteFailures failed writes of {@code vm.json}
 * @param auditWriteFailures failed appends to {@code audit.log}
 */
public record DaemonCollector(Supplier<Map<String, Integer>> openStreams, Supplier<Map<String, Long>> refused,
    LongSupplier vmStateWriteFailures, LongSupplier auditWriteFailures) implements MultiCollector {
  @Override
  public MetricSnapshots collect() {
    Families f = new Families();
    openStreams.get().forEach((caller, n) -> f.gauge("vmlet_api_open_streams",
        "Long-lived streams a caller holds open (the per-caller limit applies to these).", n, Labels.of("caller", caller)));
    refused.get().forEach((method, n) -> f.counter("vmlet_audit_refused_calls",
        "Calls the audit log recorded as refused (PERMISSION_DENIED): a role too low, a host path or @host not allowed.", n,
        Labels.of("grpc_method", method)));
    String help = "Writes to the state directory that failed (full or read-only file system); see docs/api.md.";
    f.counter("vmlet_state_write_failures", help, vmStateWriteFailures.getAsLong(), Labels.of("file", "vm.json"));
    f.counter("vmlet_state_write_failures", help, auditWriteFailures.getAsLong(), Labels.of("file", "audit.log"));
    return f.build();
  }
}
