package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.OperatingSystemMXBean;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.it.BenchSupport;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Several builds or JVM flag sets of the guest agent measured in turns in one guest ({@code
 * -Dbench.agents=main,this}), so that a busy moment of the machine hits each alike: each run
 * restarts the guest's agent as each variant in order and pushes and pulls the same file. A
 * variant is the bundle's agent unless {@code -Dbench.agent.LABEL.jar=HOST_PATH} names another
 * jar (main's build, say), with extra JVM flags from {@code -Dbench.agent.LABEL.flags=...} and
 * an extra sed expression on the bundle's agent.sh from {@code -Dbench.agent.LABEL.sed=...}.
 *
 * <p>Beside throughput it prints, per variant, the guest CPU per MiB of each of the agent's
 * threads (from {@code /proc/PID/task/TID/stat} in the guest, summed by thread name) and the
 * host CPU per MiB of this JVM, which holds the daemon and the client.
 */
final class AgentTurns {
  private static final String DIR = "/opt/vmlet-agent";
  private static final int MIB = 1 << 20;

  private final BenchSupport.DebianVm vm;
  private final List<String> labels;

  private AgentTurns(BenchSupport.DebianVm vm, List<String> labels) {
    this.vm = vm;
    this.labels = labels;
  }

  /** The variants {@code -Dbench.agents} names, or empty when it names none. */
  static List<String> labels() {
    String s = System.getProperty("bench.agents", "").strip();
    return s.isEmpty() ? List.of() : List.of(s.split(","));
  }

  /** Per variant and direction: MB/s of each run, and CPU seconds summed over runs. */
  private final Map<String, List<Double>> rates = new LinkedHashMap<>();
  private final Map<String, Map<String, Double>> threadCpu = new LinkedHashMap<>();
  private final Map<String, Double> hostCpu = new LinkedHashMap<>();
  /** The agent's resident memory after each round's push and pull (MiB). */
  private final Map<String, List<Double>> rss = new LinkedHashMap<>();

  /**
   * Installs each variant next to the bundle's agent.sh, runs {@code runs} rounds of push then
   * pull per variant in turns, each round followed by {@code alongside}'s steps, reports, and
   * leaves the bundle's own agent running. Returns each variant's rates ("LABEL in" / "LABEL
   * out"), in round order.
   */
  static Map<String, List<Double>> run(BenchSupport.DebianVm vm, byte[] data, String sha, int runs, int sizeMib, Bench.Chart chart,
      List<Runnable> alongside) throws Exception {
    AgentTurns t = new AgentTurns(vm, labels());
    t.install();
    try {
      for (int r = 0; r < runs; r++) {
        for (String label : t.labels) {
          t.switchTo(label);
          t.transfer(label, data, sha);
        }
        // scp and the raw port in the same round, so that the ratios to them are at one load.
        alongside.forEach(Runnable::run);
      }
    } finally {
      t.switchTo(null);
    }
    t.report(runs, sizeMib, chart);
    return t.rates;
  }

  /**
   * Each variant's rate over another way's, round by round (the two measured at one load), as
   * the median and range of those ratios; {@code way} holds that way's rates in round order.
   */
  static void reportRatios(Map<String, List<Double>> rates, String wayName, List<Double> wayIn, List<Double> wayOut, String format) {
    for (String label : labels()) {
      for (String dir : List.of("in", "out")) {
        // No transfers of this variant (the exec part alone): nothing to compare.
        List<Double> ours = rates.getOrDefault(label + " " + dir, List.of());
        List<Double> theirs = dir.equals("in") ? wayIn : wayOut;
        List<Double> ratios = new ArrayList<>();
        for (int i = 0; i < Math.min(ours.size(), theirs.size()); i++) {
          ratios.add(ours.get(i) / theirs.get(i) * (format.contains("%%") ? 100 : 1));
        }
        if (!ratios.isEmpty()) {
          Bench.report("vmlet agent [" + label + "] / " + wayName + ", " + (dir.equals("in") ? "host to guest" : "guest to host")
              + ", round by round", Bench.stats(ratios, format));
        }
      }
    }
  }

  private void install() throws Exception {
    vm.sh("[ -f " + DIR + "/agent.sh.bundle ] || cp " + DIR + "/agent.sh " + DIR + "/agent.sh.bundle");
    for (String label : labels) {
      assertThat(label).as("an agent variant's label").matches("[A-Za-z0-9_-]+");
      String jar = System.getProperty("bench.agent." + label + ".jar", "");
      String flags = System.getProperty("bench.agent." + label + ".flags", "");
      String extraSed = System.getProperty("bench.agent." + label + ".sed", "");
      assertThat(flags).as("flags of agent variant " + label).doesNotContain("'").doesNotContain("|");
      assertThat(extraSed).as("sed expression of agent variant " + label).doesNotContain("'");
      String script = DIR + "/agent-" + label + ".sh";
      // The flags go last, just before -cp: after the script's own, so that they win, and after
      // its -XX:+UnlockDiagnosticVMOptions.
      String sed = "s| -cp | " + flags + " -cp |";
      if (!jar.isEmpty()) {
        // Another jar: the bundle's class archive was made from its own jar, and the JVM would
        // refuse it (-Xshare:auto, so it starts without).
        vm.push(DIR + "/agent-" + label + ".jar", Files.readAllBytes(Path.of(jar)));
        sed += "; s|-cp vmlet-agent.jar|-cp agent-" + label + ".jar|; s|-XX:SharedArchiveFile=agent.jsa||";
      }
      if (!extraSed.isEmpty()) {
        sed += "; " + extraSed; // e.g. /agent-tcg-flags/d: the JVM's intrinsics as main had them
      }
      vm.sh("sed '" + sed + "' " + DIR + "/agent.sh.bundle > " + script + " && chmod +x " + script);
      Bench.report("agent variant " + label, (jar.isEmpty() ? "the bundle's jar" : jar) + (flags.isEmpty() ? "" : ", flags " + flags)
          + (extraSed.isEmpty() ? "" : ", sed " + extraSed) + ": " + vm.sh("grep -v '^#' " + script + " | tail -n 3").strip().replace('\n', ' '));
    }
  }

  /** Restarts the guest's agent as {@code label} (null: the bundle's own) and waits until it answers. */
  private void switchTo(String label) throws Exception {
    String script = label == null ? "agent.sh.bundle" : "agent-" + label + ".sh";
    String pid = vm.sh("pidof java").strip();
    // The restart ends the agent that runs this command: systemd does it two seconds later.
    vm.sh("cp " + DIR + "/" + script + " " + DIR + "/agent.sh; systemd-run --on-active=2 systemctl restart vmlet-agent.service");
    Poll.until("the agent to come back as " + (label == null ? "the bundle's" : label), Duration.ofSeconds(240), () -> {
      try {
        String now = vm.sh("pidof java").strip();
        return !now.isEmpty() && !now.equals(pid);
      } catch (RuntimeException e) {
        return false; // restarting: the daemon has no agent link meanwhile
      }
    });
  }

  private void transfer(String label, byte[] data, String sha) throws Exception {
    Map<String, Double> t0 = threads();
    double h0 = hostCpuSeconds();
    long n0 = System.nanoTime();
    assertThat(vm.push("/root/bench.bin", data).getSha256()).isEqualTo(sha);
    rates.computeIfAbsent(label + " in", k -> new ArrayList<>()).add(AgentTransferBench.mbps(data.length, System.nanoTime() - n0));
    Map<String, Double> t1 = threads();
    double h1 = hostCpuSeconds();
    long n1 = System.nanoTime();
    assertThat(BenchSupport.sha(vm.pull("/root/bench.bin"))).isEqualTo(sha);
    rates.computeIfAbsent(label + " out", k -> new ArrayList<>()).add(AgentTransferBench.mbps(data.length, System.nanoTime() - n1));
    // Progress for whoever watches the log (the BENCH lines come at the end).
    System.out.printf("agent variant %s: push %.1f MB/s, pull %.1f MB/s%n", label, rates.get(label + " in").get(rates.get(label + " in").size() - 1),
        rates.get(label + " out").get(rates.get(label + " out").size() - 1));
    if (rates.get(label + " in").size() == 1) {
      // Which SHA-256 the variant used, as this agent process logged it (older builds log none).
      String logged = vm.sh("journalctl _PID=$(pidof java) --no-pager -o cat | grep -o 'transfers: SHA-256 by.*' | tail -n 1 || true").strip();
      Bench.report("agent variant " + label + ", its SHA-256", logged.isEmpty() ? "not logged (a build before NativeSha256)" : logged);
    }
    Map<String, Double> t2 = threads();
    double h2 = hostCpuSeconds();
    rss.computeIfAbsent(label, k -> new ArrayList<>()).add(AgentTransferBench.agentRssMib(vm));
    add(label + " in", t0, t1);
    add(label + " out", t1, t2);
    hostCpu.merge(label + " in", h1 - h0, Double::sum);
    hostCpu.merge(label + " out", h2 - h1, Double::sum);
  }

  private void add(String key, Map<String, Double> before, Map<String, Double> after) {
    Map<String, Double> sum = threadCpu.computeIfAbsent(key, k -> new TreeMap<>());
    after.forEach((name, s) -> sum.merge(name, s - before.getOrDefault(name, 0.0), Double::sum));
  }

  /** CPU seconds of each of the agent's threads, summed by thread name. */
  private Map<String, Double> threads() {
    // One whole line per thread or none: a thread may end between the listing and the reads.
    String out = vm.sh("p=$(pidof java); for t in /proc/$p/task/*; do c=$(cat $t/comm 2>/dev/null) && "
        + "s=$(awk '{sub(/^.*\\) /, \"\"); print $12 + $13}' $t/stat 2>/dev/null) && [ -n \"$s\" ] && printf '%s\\t%s\\n' \"$c\" \"$s\"; "
        + "done; echo \"tck $(getconf CLK_TCK)\"");
    Map<String, Double> ticks = new TreeMap<>();
    double hz = 100;
    for (String line : out.split("\n")) {
      if (line.startsWith("tck ")) {
        hz = Double.parseDouble(line.substring(4).strip());
      } else if (line.matches("[^\t]*\t[0-9]+")) {
        String[] f = line.split("\t");
        ticks.merge(f[0].strip(), Double.parseDouble(f[1].strip()), Double::sum);
      }
    }
    Map<String, Double> seconds = new TreeMap<>();
    double clk = hz;
    ticks.forEach((k, v) -> seconds.put(k, v / clk));
    return seconds;
  }

  private static double hostCpuSeconds() {
    return ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
  }

  private void report(int runs, int sizeMib, Bench.Chart chart) {
    for (String label : labels) {
      List<Double> in = rates.get(label + " in");
      List<Double> out = rates.get(label + " out");
      Bench.report("vmlet agent [" + label + "], " + sizeMib + " MiB host to guest (MB/s)", Bench.stats(in, "%.1f"));
      Bench.report("vmlet agent [" + label + "], " + sizeMib + " MiB guest to host (MB/s)", Bench.stats(out, "%.1f"));
      chart.bar("vmlet agent [" + label + "]", "host to guest", Bench.median(in)).bar("vmlet agent [" + label + "]", "guest to host",
          Bench.median(out));
      Bench.report("vmlet agent [" + label + "], resident memory in the guest after a push and a pull (MiB)",
          Bench.stats(rss.get(label), "%.1f"));
      double mib = (double) runs * sizeMib;
      for (String dir : List.of("in", "out")) {
        StringBuilder b = new StringBuilder();
        double total = 0;
        for (var e : threadCpu.get(label + " " + dir).entrySet()) {
          total += e.getValue();
          if (e.getValue() * 1000 / mib >= 1) { // threads that did something
            b.append(String.format("%s %.0f, ", e.getKey(), e.getValue() * 1000 / mib));
          }
        }
        Bench.report("vmlet agent [" + label + "], " + (dir.equals("in") ? "host to guest" : "guest to host")
            + ": guest CPU per MiB, all threads / by thread (ms)", String.format("%.0f / %s", total * 1000 / mib, b));
        Bench.report("vmlet agent [" + label + "], " + (dir.equals("in") ? "host to guest" : "guest to host")
            + ": host CPU per MiB of the daemon and client JVM (ms)", String.format("%.1f", hostCpu.get(label + " " + dir) * 1000 / mib));
      }
    }
  }

  /**
   * The exec part with the variants in turns ({@code -Dbench.parts=exec -Dbench.agents=main,this}):
   * each run restarts the agent as each variant in order, warms it (its JIT starts cold), then calls
   * `true` and a command printing 1 MiB 10 times each, call by call in turns with
   * qemu-guest-agent, so each variant's ratio to qemu-guest-agent comes from the same minutes. With
   * {@code -Dvmlet.agent.trace=hops} in a variant's flags, its hop lines (docs/agent-protocol.md)
   * are summed up per variant: how the 1 MiB went out (polls, frames, credit waits).
   */
  static void execRuns(BenchSupport.DebianVm vm, int runs) throws Exception {
    AgentTurns t = new AgentTurns(vm, labels());
    t.install();
    String mib = AgentTransferBench.MIB_COMMAND;
    Map<String, Map<String, List<Double>>> p50 = new LinkedHashMap<>(); // "label command way" -> p50 per run
    Map<String, Map<String, List<Double>>> p90 = new LinkedHashMap<>();
    Map<String, List<Map<String, Long>>> traced = new LinkedHashMap<>();
    try {
      for (int r = 0; r < runs; r++) {
        for (String label : t.labels) {
          t.switchTo(label);
          for (int i = 0; i < 10; i++) { // warm: the restarted agent's JIT has compiled nothing
            vm.sh("true");
            assertThat(vm.sh(mib).length()).isEqualTo(MIB);
          }
          String journalSince = vm.sh("date +%s").strip();
          for (String command : AgentTransferBench.EXEC_COMMANDS) {
            Map<String, List<Double>> ms = new LinkedHashMap<>();
            for (int i = 0; i < 10; i++) {
              long t0 = System.nanoTime();
              int n = vm.sh(command).length();
              ms.computeIfAbsent("vmlet agent", k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e6);
              long t1 = System.nanoTime();
              int q = AgentTransferBench.qgaExec(vm.qgaSocket(), command);
              ms.computeIfAbsent("qemu-guest-agent", k -> new ArrayList<>()).add((System.nanoTime() - t1) / 1e6);
              int want = command.equals("true") ? 0 : MIB;
              assertThat(n).as("vmlet output of " + command).isEqualTo(want);
              assertThat(q).as("qemu-guest-agent output of " + command).isEqualTo(want);
            }
            String key = label + (command.equals("true") ? ", true" : ", 1 MiB of output");
            ms.forEach((way, v) -> {
              p50.computeIfAbsent(key, k -> new LinkedHashMap<>()).computeIfAbsent(way, k -> new ArrayList<>()).add(Bench.percentile(v, 50));
              p90.computeIfAbsent(key, k -> new LinkedHashMap<>()).computeIfAbsent(way, k -> new ArrayList<>()).add(Bench.percentile(v, 90));
            });
            System.out.printf("agent variant %s, %s: vmlet p50 %.0f ms, qga p50 %.0f ms%n", label, key,
                Bench.percentile(ms.get("vmlet agent"), 50), Bench.percentile(ms.get("qemu-guest-agent"), 50));
          }
          String hops = vm.sh("journalctl -o cat -u vmlet-agent --since @" + journalSince + " | grep 'hops stream' || true");
          HopLines.parse(hops, "hops stream (\\d+) exec:").values().stream().filter(h -> h.getOrDefault("bytes", 0L) == MIB)
              .forEach(h -> traced.computeIfAbsent(label, k -> new ArrayList<>()).add(h));
        }
      }
    } finally {
      t.switchTo(null);
    }
    for (String key : p50.keySet()) {
      Map<String, List<Double>> a = p50.get(key);
      Map<String, List<Double>> b = p90.get(key);
      Bench.report("exec in turns [" + key + "], vmlet agent: p50 / p90 (ms)",
          Bench.stats(a.get("vmlet agent"), "%.0f") + " / " + Bench.stats(b.get("vmlet agent"), "%.0f"));
      Bench.report("exec in turns [" + key + "], qemu-guest-agent: p50 / p90 (ms)",
          Bench.stats(a.get("qemu-guest-agent"), "%.0f") + " / " + Bench.stats(b.get("qemu-guest-agent"), "%.0f"));
      Bench.report("exec in turns [" + key + "], vmlet / qemu-guest-agent: p50 / p90", String.format("%.2f / %.2f",
          Bench.median(a.get("vmlet agent")) / Bench.median(a.get("qemu-guest-agent")),
          Bench.median(b.get("vmlet agent")) / Bench.median(b.get("qemu-guest-agent"))));
    }
    traced.forEach((label, lines) -> {
      Map<Integer, Map<String, Long>> byIndex = new LinkedHashMap<>();
      for (int i = 0; i < lines.size(); i++) {
        byIndex.put(i, lines.get(i));
      }
      StringBuilder b = new StringBuilder();
      HopLines.medians(byIndex).forEach((k, v) -> b.append(k).append(' ').append(String.format("%.0f", v)).append(", "));
      Bench.report("exec in turns [" + label + "], agent's trace of 1 MiB, medians of " + lines.size() + " (us since the read; counts)", b.toString());
    });
  }

  /**
   * SHA-256 and CRC32C alone in the guest, on the agent's runtime, under each flag set: what the
   * digest costs there without the port, the protocol or the file.
   */
  static void digestAlone(BenchSupport.DebianVm vm) throws Exception {
    String cls = GuestDigestProbe.class.getName().replace('.', '/') + ".class";
    byte[] bytes;
    try (InputStream in = GuestDigestProbe.class.getClassLoader().getResourceAsStream(cls)) {
      bytes = in.readAllBytes();
    }
    String dir = "/tmp/vmlet-probe/" + cls.substring(0, cls.lastIndexOf('/'));
    vm.sh("mkdir -p " + dir);
    vm.push("/tmp/vmlet-probe/" + cls, bytes);
    Map<String, String> flagSets = new LinkedHashMap<>();
    flagSets.put("C1 alone", "-XX:TieredStopAtLevel=1");
    flagSets.put("C1 and C2 (the bundle's)", "-XX:CICompilerCount=2");
    flagSets.put("C1 and C2, no SHA intrinsics", "-XX:CICompilerCount=2 -XX:-UseSHA");
    flagSets.put("C1 and C2, no AVX", "-XX:CICompilerCount=2 -XX:UseAVX=0");
    flagSets.put("C1 and C2, no CRC32C intrinsic", "-XX:CICompilerCount=2 -XX:+UnlockDiagnosticVMOptions -XX:-UseCRC32CIntrinsics");
    for (var f : flagSets.entrySet()) {
      String out = vm.sh(DIR + "/runtime/bin/java -XX:+UseSerialGC -Xmx96m " + f.getValue() + " -cp /tmp/vmlet-probe "
          + GuestDigestProbe.class.getName() + " 16 32 2>&1");
      Bench.report("digest alone in the guest, agent's runtime, " + f.getKey() + " (" + f.getValue() + "), 32 MiB after 16 warm (MB/s)",
          out.strip().replace('\n', ','));
    }
    nativeSha256(vm);
  }

  /**
   * libcrypto's SHA-256 in the guest (through python3's hashlib, which calls it), as it picks its
   * code from the CPU's flags and with {@code OPENSSL_ia32cap} masking some: under TCG each SIMD
   * instruction is emulated, so the code a real CPU runs fastest may be the slowest here.
   */
  static void nativeSha256(BenchSupport.DebianVm vm) throws Exception {
    Bench.report("the guest CPU's flags that libcrypto's SHA-256 picks its code by",
        vm.sh("grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\\n' | grep -xE 'ssse3|avx|avx2|bmi1|bmi2|sha_ni' | tr '\\n' ' '").strip());
    Map<String, String> masks = new LinkedHashMap<>();
    masks.put("as it comes", "");
    masks.put("no SHA extensions", ":~0x20000000");
    // CPUID(1).ECX bit 28 AVX; CPUID(7).EBX bits 3 BMI1, 5 AVX2, 8 BMI2, 29 SHA: the SSSE3 code.
    masks.put("no AVX, AVX2, BMI, SHA (SSSE3)", "~0x1000000000000000:~0x20000128");
    // ... and CPUID(1).ECX bit 9 SSSE3: the plain integer code.
    masks.put("no SSSE3, AVX, AVX2, BMI, SHA (integer)", "~0x1000020000000000:~0x20000128");
    String py = "import hashlib,time; b=bytes(range(256))*128; h=hashlib.sha256()\n"
        + "for _ in range(512): h.update(b)\n"
        + "t=time.perf_counter()\nfor _ in range(1024): h.update(b)\n"
        + "print('%.1f' % (32*1.048576/(time.perf_counter()-t)))";
    vm.push("/tmp/vmlet-probe-sha.py", py.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    for (var m : masks.entrySet()) {
      String env = m.getValue().isEmpty() ? "" : "OPENSSL_ia32cap='" + m.getValue() + "' ";
      String out = vm.sh(env + "python3 /tmp/vmlet-probe-sha.py 2>&1");
      Bench.report("SHA-256 alone in the guest, libcrypto (python3 hashlib), " + m.getKey() + " (" + env.strip() + "), 32 MiB in 32 KiB after 16 warm (MB/s)",
          out.strip());
    }
  }
}
