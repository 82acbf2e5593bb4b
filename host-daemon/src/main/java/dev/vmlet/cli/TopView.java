package dev.vmlet.cli;

import dev.vmlet.client.MetricsText.Sample;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * What {@code vmlet top} shows, computed from two scrapes of the daemon's metrics: one row per VM,
 * with rates over the time between the scrapes. A pure function of its inputs; the command does
 * the terminal.
 */
final class TopView {
  private TopView() {}

  /**
   * One VM. Rates are per second; NaN where there is no earlier scrape or no such counter (a
   * stopped VM, networking without a TAP device).
   *
   * @param cpuPercent of one host CPU, as top(1) counts it
   */
  record Row(String vm, String state, int vcpus, double memoryBytes, double residentBytes, double cpuPercent,
      double diskReadRate, double diskWriteRate, double netReceiveRate, double netTransmitRate, boolean agent) {}

  /** The rows, by VM name; {@code before} may be null (first frame). */
  static List<Row> rows(List<Sample> before, List<Sample> now, double seconds) {
    Map<String, Map<String, Double>> was = totals(before == null ? List.of() : before);
    Map<String, Map<String, Double>> is = totals(now);
    Map<String, String> states = new TreeMap<>();
    for (Sample s : now) {
      if (s.name().equals("vmlet_vm_state") && s.value() == 1) {
        states.put(s.label("vm"), s.label("state"));
      }
    }
    List<Row> out = new ArrayList<>();
    for (Map.Entry<String, String> e : states.entrySet()) {
      Map<String, Double> n = is.getOrDefault(e.getKey(), Map.of());
      Map<String, Double> b = was.getOrDefault(e.getKey(), Map.of());
      out.add(new Row(e.getKey(), e.getValue(), n.getOrDefault("vmlet_vm_vcpus", 0.0).intValue(),
          n.getOrDefault("vmlet_vm_memory_bytes", Double.NaN), n.getOrDefault("vmlet_vm_resident_memory_bytes", Double.NaN),
          100 * rate(b, n, "vmlet_vm_cpu_seconds_total", seconds), rate(b, n, "vmlet_vm_block_read_bytes_total", seconds),
          rate(b, n, "vmlet_vm_block_written_bytes_total", seconds), rate(b, n, "vmlet_vm_network_receive_bytes_total", seconds),
          rate(b, n, "vmlet_vm_network_transmit_bytes_total", seconds), n.getOrDefault("vmlet_vm_agent_connected", 0.0) == 1));
    }
    return out;
  }

  /** Per VM, each metric summed over its other labels (disks, interfaces). */
  private static Map<String, Map<String, Double>> totals(List<Sample> samples) {
    Map<String, Map<String, Double>> out = new HashMap<>();
    for (Sample s : samples) {
      String vm = s.labels().get("vm");
      if (vm != null && s.name().startsWith("vmlet_vm_")) {
        out.computeIfAbsent(vm, k -> new HashMap<>()).merge(s.name(), s.value(), Double::sum);
      }
    }
    return out;
  }

  /** Per second; NaN without both numbers, and for a counter that went back (QEMU restarted). */
  private static double rate(Map<String, Double> before, Map<String, Double> now, String metric, double seconds) {
    Double b = before.get(metric);
    Double n = now.get(metric);
    if (b == null || n == null || n < b || seconds <= 0) {
      return Double.NaN;
    }
    return (n - b) / seconds;
  }

  /** The screen: a header, the column titles and a line per VM, each cut to {@code width}. */
  static String render(String header, List<Row> rows, int width) {
    return render(header, rows, width, Integer.MAX_VALUE);
  }

  /** As above, in at most {@code height} lines: VMs that do not fit are counted on the last line. */
  static String render(String header, List<Row> rows, int width, int height) {
    List<String> lines = new ArrayList<>();
    lines.add(header);
    long running = rows.stream().filter(r -> r.state().equals("RUNNING")).count();
    lines.add(rows.size() + " VMs, " + running + " running");
    lines.add("");
    lines.add(String.format(Locale.ROOT, "%-20s %-9s %4s %6s %8s %8s %9s %9s %9s %9s %-5s", "VM", "STATE", "CPUS", "CPU%", "MEM",
        "RSS", "DISK R/s", "DISK W/s", "NET RX/s", "NET TX/s", "AGENT"));
    for (Row r : rows) {
      lines.add(String.format(Locale.ROOT, "%-20s %-9s %4d %6s %8s %8s %9s %9s %9s %9s %-5s", cut(r.vm(), 20), r.state(), r.vcpus(),
          Double.isNaN(r.cpuPercent()) ? "-" : String.format(Locale.ROOT, "%.1f", r.cpuPercent()), bytes(r.memoryBytes()),
          bytes(r.residentBytes()), bytes(r.diskReadRate()), bytes(r.diskWriteRate()), bytes(r.netReceiveRate()),
          bytes(r.netTransmitRate()), r.agent() ? "up" : "-"));
    }
    if (lines.size() > height && height > 5) {
      int shown = height - 5; // header, count, blank, titles, and the line that counts the rest
      int hidden = lines.size() - 4 - shown;
      lines = new ArrayList<>(lines.subList(0, 4 + shown));
      lines.add("... and " + hidden + " more VMs (a taller terminal shows them)");
    }
    StringBuilder out = new StringBuilder();
    for (String l : lines) {
      out.append(cut(l, width).stripTrailing()).append('\n');
    }
    return out.toString();
  }

  private static String cut(String s, int width) {
    return s.length() <= width ? s : s.substring(0, width);
  }

  /** 1024-based, as free(1) and top(1) print memory: 512M, 1.5G, 12K; "-" for unknown. */
  static String bytes(double b) {
    if (Double.isNaN(b)) {
      return "-";
    }
    String[] units = {"B", "K", "M", "G", "T"};
    int u = 0;
    while (b >= 1024 && u < units.length - 1) {
      b /= 1024;
      u++;
    }
    return (b < 10 && u > 0 ? String.format(Locale.ROOT, "%.1f", b) : String.format(Locale.ROOT, "%.0f", b)) + units[u];
  }
}
