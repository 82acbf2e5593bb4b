package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.it.BenchSupport;
import dev.vmlet.proto.v1.Vm;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.api.ApiEnums;

/**
 * Not part of the test run: {@code ./scripts/bench debian}. The first boot of a new Debian cloud
 * VM (2 vCPUs, 2 GiB), {@code bench.runs} times, each a new VM: from QEMU's start to the kernel's
 * first console line, the kernel's own time to {@code /init}, the agent ready, SSH answering and
 * cloud-init done; in the guest, systemd's kernel / userspace split and the agent's own start
 * (its unit started to "welcomed by host", from the guest's journal).
 */
class DebianBootBench {
  private static final Pattern MONO = Pattern.compile("^\\[\\s*(\\d+\\.\\d+)\\]");
  @TempDir Path tmp;

  @Test
  void firstBootOfADebianCloudVm() throws Exception {
    Map<String, List<Double>> figures = new LinkedHashMap<>();
    String accel = "";
    for (int i = 0; i < Bench.runs(); i++) {
      try (BenchSupport.DebianVm vm = BenchSupport.debianVm(tmp.resolve("run" + i), "deb" + i)) {
        Vm v = vm.awaitBootTimeline();
        accel = ApiEnums.word(v.getAccel());
        long t0 = v.getStartedAtUnixMs();
        add(figures, "QEMU start to the kernel's first console line", (v.getConsoleFirstOutputUnixMs() - t0) / 1000.0);
        Double toInit = Bench.kernelToInit(v.getConsoleLog());
        if (toInit != null) {
          add(figures, "the kernel, its start to /init (its own clock)", toInit);
        }
        add(figures, "QEMU start to agent ready", (v.getAgentReadyAtUnixMs() - t0) / 1000.0);
        add(figures, "QEMU start to SSH answering", (v.getSshReadyUnixMs() - t0) / 1000.0);
        add(figures, "QEMU start to cloud-init done", (v.getCloudInitDoneUnixMs() - t0) / 1000.0);
        String journal = vm.sh("journalctl -o short-monotonic --no-pager -u vmlet-agent");
        Double started = null;
        Double welcomed = null;
        for (String line : journal.split("\n")) {
          Matcher t = MONO.matcher(line);
          if (!t.find()) {
            continue;
          }
          if (started == null && line.contains("Started vmlet-agent")) {
            started = Double.parseDouble(t.group(1));
          }
          if (started != null && welcomed == null && line.contains("welcomed by host")) {
            welcomed = Double.parseDouble(t.group(1));
          }
        }
        assertThat(started).as("the agent unit's start in the journal:\n" + journal).isNotNull();
        assertThat(welcomed).as("'welcomed by host' in the journal:\n" + journal).isNotNull();
        add(figures, "the agent's own start in the guest (unit started to welcomed)", welcomed - started);
        add(figures, "guest clock when the agent unit started (cloud-init installs it)", started);
      }
    }
    Bench.Chart chart = new Bench.Chart("debian-boot.png", "First boot of a Debian cloud VM under " + accel + " (s, medians)", "s");
    for (Map.Entry<String, List<Double>> f : figures.entrySet()) {
      Bench.report("debian first boot (" + accel + "): " + f.getKey() + " (s)", Bench.stats(f.getValue(), "%.1f"));
      chart.bar("seconds", f.getKey().replace("QEMU start to ", "to ").replace(" (its own clock)", ""), Bench.median(f.getValue()));
    }
    chart.write();
  }

  private static void add(Map<String, List<Double>> figures, String what, double value) {
    figures.computeIfAbsent(what, k -> new ArrayList<>()).add(value);
  }
}
