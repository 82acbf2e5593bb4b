package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.it.BenchSupport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Not part of the test run: {@code ./scripts/bench cli}. What a person at a terminal waits for:
 * {@code vmlet list}, {@code vmlet info NAME} and {@code vmlet exec NAME -- true} typed through the
 * {@code ./vmlet} launcher with its default settings (only VMLET_SOCKET points it at this
 * benchmark's daemon), next to {@code ssh} running {@code true} over a reused connection
 * (ControlMaster) into the same guest, all interleaved in one run. Each prints the p50 and p90 of
 * the wall time and the median CPU time (user + sys of the launcher and its JVM, from
 * {@code /usr/bin/time}, which varies far less than the wall time on a shared machine).
 * The guest is a Debian cloud VM, which has sshd; {@code -Dbench.cli.image=micro} uses the micro
 * image instead, which has none (no ssh row then). {@code -Dbench.cli.compare=PATH} also runs the
 * launcher of another checkout (an older commit, built) in the same rounds, for a before/after.
 */
class CliBench {
  private static final String LAUNCHER = Path.of("..", "vmlet").toAbsolutePath().normalize().toString();
  private static final Path TIME = Path.of("/usr/bin/time");

  @TempDir Path tmp;

  @Test
  void listInfoExecAsTyped_nextToSshOverAReusedConnection() throws Exception {
    int calls = Integer.getInteger("bench.cli.calls", 10);
    boolean micro = System.getProperty("bench.cli.image", "debian").equals("micro");
    String name = "bench-cli";
    Map<String, List<String>> commands = new LinkedHashMap<>();
    List<String> launchers = new ArrayList<>(List.of(LAUNCHER));
    if (System.getProperty("bench.cli.compare") != null) {
      launchers.add(System.getProperty("bench.cli.compare"));
    }
    for (String launcher : launchers) {
      String which = launcher.equals(LAUNCHER) ? "" : " (" + launcher + ")";
      commands.put("vmlet list" + which, List.of(launcher, "list"));
      commands.put("vmlet info NAME" + which, List.of(launcher, "info", name));
      commands.put("vmlet exec NAME -- true" + which, List.of(launcher, "exec", name, "--", "true"));
    }
    if (micro) {
      try (BenchSupport.MicroNode node = BenchSupport.microNode(tmp)) {
        node.start(name, 512);
        measure(commands, node.socket(), null, calls);
      }
    } else {
      try (BenchSupport.DebianVm vm = BenchSupport.debianVm(tmp, name)) {
        vm.awaitBootTimeline(); // cloud-init keeps the guest busy for a while after its agent is ready
        AgentTransferBench.Ssh ssh = new AgentTransferBench.Ssh(vm.info(), tmp.resolve("ssh-control"));
        measure(commands, vm.socket(), ssh, calls);
      }
    }
  }

  private void measure(Map<String, List<String>> commands, Path socket, AgentTransferBench.Ssh ssh, int calls) throws Exception {
    Map<String, List<Double>> wall = new LinkedHashMap<>();
    Map<String, List<Double>> cpu = new LinkedHashMap<>();
    for (var c : commands.entrySet()) {
      run(c.getValue(), socket); // once untimed: a new jar's first command makes the class-data archive
    }
    if (ssh != null) {
      ssh.run(true, "true"); // opens the master connection that the timed calls reuse
    }
    for (int i = 0; i < calls; i++) {
      for (var c : commands.entrySet()) {
        long t0 = System.nanoTime();
        Double seconds = run(c.getValue(), socket);
        wall.computeIfAbsent(c.getKey(), k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e6);
        if (seconds != null) {
          cpu.computeIfAbsent(c.getKey(), k -> new ArrayList<>()).add(seconds * 1000);
        }
      }
      if (ssh != null) {
        long t0 = System.nanoTime();
        ssh.run(true, "true");
        wall.computeIfAbsent("ssh NAME true, reused connection", k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e6);
      }
    }
    Bench.Chart chart = new Bench.Chart("cli.png", "What a terminal waits for (ms, p50 of " + calls + ")", "ms");
    for (var w : wall.entrySet()) {
      List<Double> c = cpu.get(w.getKey());
      Bench.report("cli, " + w.getKey() + ": wall p50 / p90" + (c != null ? ", CPU median" : "") + " (ms, " + calls + " calls)",
          String.format("%.0f / %.0f", Bench.percentile(w.getValue(), 50), Bench.percentile(w.getValue(), 90))
              + (c != null ? String.format(", %.0f", Bench.median(c)) : ""));
      // Bars grouped by command (list, info, exec, ssh), one series per measure and launcher.
      String[] words = w.getKey().split(" ", 3);
      String category = words[0].equals("ssh") ? "ssh, reused" : words[1];
      String launcher = w.getKey().contains(" (") ? w.getKey().substring(w.getKey().indexOf(" (")) : "";
      chart.bar("wall p50" + launcher, category, Bench.percentile(w.getValue(), 50));
      if (c != null) {
        chart.bar("CPU" + launcher, category, Bench.median(c));
      }
    }
    chart.write();
  }

  /** Runs a launcher with its arguments; its CPU seconds (user + sys), or null without /usr/bin/time. */
  private Double run(List<String> launcherAndArgs, Path socket) throws Exception {
    Path times = tmp.resolve("time.txt");
    List<String> cmd = new ArrayList<>();
    boolean timed = Files.isExecutable(TIME);
    if (timed) {
      cmd.addAll(List.of(TIME.toString(), "-f", "%U %S", "-o", times.toString()));
    }
    cmd.addAll(launcherAndArgs);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.INHERIT);
    pb.environment().put("VMLET_SOCKET", socket.toString());
    pb.environment().remove("VMLET_NODE");
    assertThat(pb.start().waitFor()).as(String.join(" ", cmd)).isZero();
    if (!timed) {
      return null;
    }
    String[] f = Files.readString(times).strip().split("\\s+");
    return Double.parseDouble(f[0]) + Double.parseDouble(f[1]);
  }
}
