package dev.vmlet.spec;

import java.util.List;

/**
 * Host-resource options of a VM, validated on construction.
 *
 * @param balloon a virtio balloon device, so the host can reclaim guest memory
 * @param hugepages back guest memory with 2 MiB hugepages (memory must be a multiple of 2 MiB and
 *     the host must have that many free; checked at start)
 * @param cpuPinning empty, or one host CPU per vCPU: vCPU i runs only on host CPU cpuPinning[i]
 */
public record Tuning(boolean balloon, boolean hugepages, List<Integer> cpuPinning) {
  public static final Tuning NONE = new Tuning(false, false, List.of());

  public Tuning {
    cpuPinning = cpuPinning == null ? List.of() : List.copyOf(cpuPinning);
    for (int cpu : cpuPinning) {
      if (cpu < 0 || cpu > 4095) {
        throw VmException.invalid("cpu_pinning: host CPU " + cpu + " is out of range");
      }
    }
  }
}
