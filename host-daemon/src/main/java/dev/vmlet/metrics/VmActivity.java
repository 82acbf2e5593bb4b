package dev.vmlet.metrics;

import dev.vmlet.vm.LifecycleEvent;
import dev.vmlet.vm.VmState;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What happened to each VM's agent and through it: agent reconnects (from the VM owner's lifecycle
 * events), execs started and failed, exec durations, bytes pushed and pulled (from
 * {@link VmCallMetrics}). A deleted VM's series go with it, so names that come and go do not pile up.
 */
public final class VmActivity {
  /** Exec calls run from milliseconds (true) to hours (a build); the buckets span that. */
  private static final double[] EXEC_BUCKETS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600};

  final Counter reconnects;
  final Counter execsStarted;
  final Counter execsFailed;
  final Histogram execSeconds;
  final Counter pushedBytes;
  final Counter pulledBytes;
  /** VMs whose agent link was lost and not yet back, since their QEMU started. */
  private final Set<String> lost = ConcurrentHashMap.newKeySet();

  public VmActivity(PrometheusRegistry registry) {
    reconnects = Counter.builder().name("vmlet_vm_agent_reconnects_total")
        .help("Times the VM's agent came back after its link was lost, while QEMU kept running (agent or daemon restarts, link cuts).")
        .labelNames("vm").register(registry);
    execsStarted = Counter.builder().name("vmlet_vm_execs_started_total").help("Exec calls (vmlet exec, the Exec RPC) started on the VM.")
        .labelNames("vm").register(registry);
    execsFailed = Counter.builder().name("vmlet_vm_execs_failed_total")
        .help("Exec calls that ended with an error status (not started, agent lost, refused by the guest's policy); a program's "
            + "own non-zero exit, or a call its caller cancelled, is not a failure here.").labelNames("vm").register(registry);
    execSeconds = Histogram.builder().name("vmlet_vm_exec_duration_seconds")
        .help("Duration of Exec calls, from the request to the program's exit or the error.")
        .classicOnly().classicUpperBounds(EXEC_BUCKETS).labelNames("vm").register(registry);
    pushedBytes = Counter.builder().name("vmlet_vm_pushed_bytes_total").help("File bytes callers pushed into the VM (PushFile, vmlet cp).")
        .labelNames("vm").register(registry);
    pulledBytes = Counter.builder().name("vmlet_vm_pulled_bytes_total").help("File bytes pulled out of the VM (PullFile, vmlet cp).")
        .labelNames("vm").register(registry);
  }

  /** Feeds on the VM owner's events; must not block (it runs on the thread that caused the event). */
  public void on(LifecycleEvent e) {
    String vm = e.name();
    switch (e.kind()) {
      case AGENT_LOST -> lost.add(vm);
      case AGENT_CONNECTED -> {
        if (lost.remove(vm)) {
          reconnects.labelValues(vm).inc();
        }
      }
      case STATE_CHANGED, CRASHED -> {
        // A link lost because QEMU stopped or is being stopped is not one to come back.
        if (e.state() != VmState.RUNNING && e.state() != VmState.PAUSED) {
          lost.remove(vm);
        }
      }
      case DELETED -> forget(vm);
      default -> { }
    }
  }

  private void forget(String vm) {
    lost.remove(vm);
    for (Counter c : new Counter[] {reconnects, execsStarted, execsFailed, pushedBytes, pulledBytes}) {
      c.remove(vm);
    }
    execSeconds.remove(vm);
  }
}
