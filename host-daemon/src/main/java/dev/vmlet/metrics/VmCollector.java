package dev.vmlet.metrics;

import dev.vmlet.spec.VmConfig;
import dev.vmlet.vm.VmRecord;
import dev.vmlet.vm.VmState;
import dev.vmlet.vm.VmView;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.TreeMap;

/**
 * The per-VM numbers of one scrape: what the VM owner's lock-free views say (state, size, agent),
 * QEMU's CPU time and memory from {@code /proc} and TAP counters from sysfs (files the kernel
 * answers at once), and the sampler's cached disk counters. Takes no lock and never talks to QEMU,
 * so a scrape costs the same whatever the VMs are doing. Every series carries {@code vm}; the VM's
 * own labels are on {@code vmlet_vm_labels} only (join on {@code vm}), as kube-state-metrics does,
 * so that adding a label to a VM does not start new series for all its metrics.
 */
public final class VmCollector implements MultiCollector {
  private final Supplier<List<VmView>> vms;
  private final VmSampler sampler;
  private final Path procRoot;
  private final Path sysRoot;

  /**
   * @param vms every VM now; must not block
   * @param procRoot {@code /proc} (QEMU's CPU time and memory), or a fake tree in tests
   * @param sysRoot {@code /sys} (TAP devices' counters), or a fake tree in tests
   */
  public VmCollector(Supplier<List<VmView>> vms, VmSampler sampler, Path procRoot, Path sysRoot) {
    this.vms = vms;
    this.sampler = sampler;
    this.procRoot = procRoot;
    this.sysRoot = sysRoot;
  }

  @Override
  public MetricSnapshots collect() {
    Families f = new Families();
    for (VmView v : vms.get()) {
      add(f, v);
    }
    return f.build();
  }

  private void add(Families f, VmView v) {
    VmRecord r = v.record();
    VmConfig c = r.config();
    String name = c.name();
    Labels vm = Labels.of("vm", name);
    f.gauge("vmlet_vm_info", "Facts of the VM as labels; always 1.", 1, Labels.of("vm", name, "instance_id", r.instanceId(),
        "image", c.image(), "machine", c.platform().machine(), "accel", r.accel() == null ? "" : r.accel()));
    if (!c.labels().isEmpty()) {
      f.gauge("vmlet_vm_labels", "The VM's labels (vmlet launch --label), as label_KEY; always 1.", 1, labels(name, c.labels()));
    }
    for (VmState s : VmState.values()) {
      f.gauge("vmlet_vm_state", "1 for the VM's current state, 0 for the others.", s == r.state() ? 1 : 0,
          Labels.of("vm", name, "state", s.name()));
    }
    f.gauge("vmlet_vm_vcpus", "Virtual CPUs configured.", c.vcpus(), vm);
    f.gauge("vmlet_vm_memory_bytes", "Guest memory configured.", c.memoryMib() * 1024.0 * 1024.0, vm);
    boolean up = r.state() == VmState.RUNNING || r.state() == VmState.PAUSED;
    f.gauge("vmlet_vm_agent_connected", "1 while the guest agent's session is up.", up && v.hello() != null ? 1 : 0, vm);
    if (up && r.startedAtMs() > 0 && v.agentReadyAtMs() >= r.startedAtMs()) {
      f.gauge("vmlet_vm_agent_ready_seconds", "Seconds from QEMU's start to the agent's first Hello in this boot.",
          (v.agentReadyAtMs() - r.startedAtMs()) / 1000.0, vm);
    }
    if (!up) {
      return;
    }
    if (r.pid() > 0) {
      ProcStats.read(procRoot, r.pid()).ifPresent(p -> {
        f.counter("vmlet_vm_cpu_seconds", "CPU time of the VM's QEMU process (user and system, all threads: vCPUs and I/O).",
            p.cpuSeconds(), vm);
        f.gauge("vmlet_vm_resident_memory_bytes", "Resident memory of the VM's QEMU process.", p.residentBytes(), vm);
      });
    }
    VmSampler.Sample s = sampler.last(name);
    for (DiskIo d : s == null ? List.<DiskIo>of() : s.disks()) {
      Labels l = Labels.of("vm", name, "disk", d.disk());
      f.counter("vmlet_vm_block_read_bytes", "Bytes read from the disk by the guest (QMP query-blockstats).", d.readBytes(), l);
      f.counter("vmlet_vm_block_written_bytes", "Bytes written to the disk by the guest.", d.writtenBytes(), l);
      f.counter("vmlet_vm_block_read_requests", "Read requests on the disk.", d.reads(), l);
      f.counter("vmlet_vm_block_write_requests", "Write requests on the disk.", d.writes(), l);
    }
    String tap = c.network().isTap() ? c.network().tap() : null;
    for (NicIo n : tap == null ? List.<NicIo>of() : NicIo.readTap(sysRoot, tap).map(List::of).orElse(List.of())) {
      Labels l = Labels.of("vm", name, "interface", n.iface());
      f.counter("vmlet_vm_network_receive_bytes", "Bytes the guest received on the interface (TAP devices only).", n.receivedBytes(), l);
      f.counter("vmlet_vm_network_transmit_bytes", "Bytes the guest sent on the interface.", n.transmittedBytes(), l);
      f.counter("vmlet_vm_network_receive_packets", "Packets the guest received on the interface.", n.receivedPackets(), l);
      f.counter("vmlet_vm_network_transmit_packets", "Packets the guest sent on the interface.", n.transmittedPackets(), l);
    }
  }

  /** {@code vm} plus each VM label as {@code label_KEY}, the key's other characters as '_' (Prometheus label names). */
  static Labels labels(String vm, Map<String, String> labels) {
    Labels out = Labels.of("vm", vm);
    for (Map.Entry<String, String> e : new TreeMap<>(labels).entrySet()) {
      String key = "label_" + e.getKey().replaceAll("[^A-Za-z0-9_]", "_");
      if (!out.contains(key)) { // two keys that differ only in '.', '/', '-': the first wins
        out = out.add(key, e.getValue());
      }
    }
    return out;
  }
}
