package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.it.BenchSupport;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import dev.vmlet.api.ApiEnums;
import dev.vmlet.proto.v1.Vm;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Not part of the test run: {@code ./scripts/bench agent}. In one Debian guest under this host's
 * accelerator, all in the same run: the exec round trip of {@code true} and of 1 MiB of output
 * through vmlet's agent, qemu-guest-agent, SSH with a new connection each time and SSH over a
 * reused one; push and pull of a 256 MiB random file through vmlet's agent and scp; the first 64
 * MiB of it through qemu-guest-agent's guest-file-write and guest-file-read (base64 JSON); and the
 * raw virtio-serial port both ways ({@code dd} to and from the port), the ceiling for any agent
 * on it.
 */
class AgentTransferBench {
  static final int MIB = 1 << 20;
  @TempDir Path tmp;

  @Test
  void agentVersusQemuGuestAgentVersusSshVersusTheRawPort() throws Exception {
    int runs = Bench.runs();
    int sizeMib = Integer.getInteger("bench.mib", 256);
    int qgaMib = Integer.getInteger("bench.qga.mib", 64);
    List<String> parts = List.of(System.getProperty("bench.parts", "exec,vmlet,qga,scp,raw").split(","));
    byte[] data = new byte[sizeMib * MIB];
    new Random(11).nextBytes(data);
    try (BenchSupport.DebianVm vm = BenchSupport.debianVm(tmp, "bench-agent")) {
      try {
        vm.awaitBootTimeline(); // cloud-init still works for about 20 s after the agent is ready: measure an idle guest
        String sha = BenchSupport.sha(data);
        Ssh ssh = new Ssh(vm.info(), tmp.resolve("ssh-control"));
        if (parts.contains("exec") && !AgentTurns.labels().isEmpty()) {
          AgentTurns.execRuns(vm, runs); // the variants in turns, each beside qemu-guest-agent
        } else if (parts.contains("exec")) {
          execRoundTrips(vm, ssh, runs);
        }
        vm.push("/root/bench.bin", data);
        Bench.Chart chart = new Bench.Chart("file-transfer.png", "File transfer, one Debian guest under " + ApiEnums.word(vm.info().getAccel())
            + " (MB/s, medians)", "MB/s");

        Bench.report("guest CPU model", vm.info().getCpuModel());
        Bench.report("vmlet agent's resident memory in the guest, before the transfers (MiB)", String.format("%.1f", agentRssMib(vm)));

        List<Double> push = new ArrayList<>();
        List<Double> pull = new ArrayList<>();
        double[] agentCpu = new double[2]; // guest CPU seconds: pushes, pulls
        if (parts.contains("digest")) {
          AgentTurns.digestAlone(vm);
        }
        List<Double> scpPush = new ArrayList<>();
        List<Double> scpPull = new ArrayList<>();
        double[] sshdCpu = new double[2];
        Path local = tmp.resolve("bench.bin");
        Files.write(local, data);
        // -Dbench.scp.cipher=NAME: scp with that cipher as well (-c), beside sshd's own choice.
        String cipher = System.getProperty("bench.scp.cipher", "");
        List<Double> scpCPush = new ArrayList<>();
        List<Double> scpCPull = new ArrayList<>();
        double[] sshdCCpu = new double[2];
        Runnable scpRound = () -> {
          try {
            scp(vm, ssh, local, data.length, sha, "", scpPush, scpPull, sshdCpu);
            if (!cipher.isEmpty()) {
              scp(vm, ssh, local, data.length, sha, cipher, scpCPush, scpCPull, sshdCCpu);
            }
          } catch (Exception e) {
            throw new IllegalStateException("scp", e);
          }
        };
        List<Double> rawOut = new ArrayList<>();
        List<Double> rawIn = new ArrayList<>();
        Runnable rawRound = () -> {
          try {
            rawOut.add(rawGuestToHost(vm, sizeMib));
            rawIn.add(rawHostToGuest(vm, sizeMib));
          } catch (Exception e) {
            throw new IllegalStateException("the raw port", e);
          }
        };
        // With variants in turns, scp and the raw port run in each round beside them (same load).
        boolean inTurns = parts.contains("vmlet") && !AgentTurns.labels().isEmpty();
        Map<String, List<Double>> turns = Map.of();
        if (inTurns) {
          List<Runnable> alongside = new ArrayList<>();
          if (parts.contains("scp")) {
            alongside.add(scpRound);
          }
          if (parts.contains("raw")) {
            assertThat(parts).as("the raw port in turns needs qemu-guest-agent stopped: no qga part").doesNotContain("qga");
            vm.sh("systemctl stop qemu-guest-agent; sleep 1");
            alongside.add(rawRound);
          }
          turns = AgentTurns.run(vm, data, sha, runs, sizeMib, chart, alongside);
        }
        for (int i = 0; i < runs && parts.contains("vmlet") && !inTurns; i++) {
          timedRound(vm, data, sha, push, pull, agentCpu);
        }
        transfer(chart, "vmlet agent", sizeMib, push, pull);
        cpuPerMib("vmlet agent (the agent's JVM)", agentCpu, push.size() * sizeMib);
        if (parts.contains("vmlet")) {
          Bench.report("vmlet agent's resident memory in the guest, after the transfers (MiB)", String.format("%.1f", agentRssMib(vm)));
        }

        if (parts.contains("c2")) {
          withC2(vm, data, sha, runs, sizeMib);
        }

        for (int i = 0; i < runs && parts.contains("scp") && !inTurns; i++) {
          scpRound.run();
        }
        transfer(chart, "scp (reused connection)", sizeMib, scpPush, scpPull);
        cpuPerMib("scp (sshd, with the scp it runs)", sshdCpu, scpPush.size() * sizeMib);
        Bench.report("scp's cipher and MAC (sshd's choice for this client)", ssh.cipher());
        AgentTurns.reportRatios(turns, "scp", scpPush, scpPull, "%.2f");
        if (!cipher.isEmpty()) {
          transfer(chart, "scp -c " + cipher, sizeMib, scpCPush, scpCPull);
          cpuPerMib("scp -c " + cipher + " (sshd, with the scp it runs)", sshdCCpu, scpCPush.size() * sizeMib);
          AgentTurns.reportRatios(turns, "scp -c " + cipher, scpCPush, scpCPull, "%.2f");
        }

        List<Double> qgaIn = new ArrayList<>();
        List<Double> qgaOut = new ArrayList<>();
        for (int i = 0; i < Math.min(runs, 3) && parts.contains("qga"); i++) {
          qgaIn.add(qgaWrite(vm.qgaSocket(), "/root/qga.bin", data, qgaMib * MIB));
          qgaOut.add(qgaRead(vm.qgaSocket(), "/root/qga.bin", Arrays.copyOf(data, qgaMib * MIB)));
        }
        transfer(chart, "qemu-guest-agent (" + qgaMib + " MiB)", qgaMib, qgaIn, qgaOut);

        // The raw port: qemu-guest-agent stopped, dd at the guest end, this process at the host end.
        vm.sh("systemctl stop qemu-guest-agent; sleep 1");
        for (int i = 0; i < runs && parts.contains("raw") && !inTurns; i++) {
          rawRound.run();
        }
        transfer(chart, "raw virtio-serial port (dd)", sizeMib, rawIn, rawOut);
        AgentTurns.reportRatios(turns, "the raw port (%)", rawIn, rawOut, "%.1f%%");
        chart.write();
      } catch (Exception | AssertionError e) {
        printAgentJournal(vm); // why an agent restarted or died, before the VM and its journal are deleted
        throw e;
      }
    }
  }

  /** One scp push and pull of the file over the reused connection: MB/s each, and sshd's guest CPU seconds. */
  private static void scp(BenchSupport.DebianVm vm, Ssh ssh, Path local, int size, String sha, String cipher, List<Double> push,
      List<Double> pull, double[] sshdCpu) throws Exception {
    double c0 = guestCpuSeconds(vm, SSHD);
    long t0 = System.nanoTime();
    ssh.scp(cipher, local.toString(), ssh.remote("/tmp/scp.bin"));
    push.add(mbps(size, System.nanoTime() - t0));
    double c1 = guestCpuSeconds(vm, SSHD);
    Path back = local.resolveSibling("back.bin");
    Files.deleteIfExists(back);
    long t1 = System.nanoTime();
    ssh.scp(cipher, ssh.remote("/tmp/scp.bin"), back.toString());
    pull.add(mbps(size, System.nanoTime() - t1));
    sshdCpu[0] += c1 - c0;
    sshdCpu[1] += guestCpuSeconds(vm, SSHD) - c1;
    assertThat(BenchSupport.sha(Files.readAllBytes(back))).isEqualTo(sha);
  }

  private static void transfer(Bench.Chart chart, String how, int mib, List<Double> in, List<Double> out) {
    if (in.isEmpty()) {
      return;
    }
    Bench.report(how + ", " + mib + " MiB host to guest (MB/s)", Bench.stats(in, "%.1f"));
    Bench.report(how + ", " + mib + " MiB guest to host (MB/s)", Bench.stats(out, "%.1f"));
    chart.bar(how, "host to guest", Bench.median(in)).bar(how, "guest to host", Bench.median(out));
  }

  /**
   * The agent with C2 as well as C1 (full tiered compilation, two compiler threads) instead of C1
   * alone: its JVM's start (agent.sh --warm-up, 3 times each, guest clock), then the agent is
   * restarted that way and the transfers, their guest CPU and its memory measured again.
   */
  private static void withC2(BenchSupport.DebianVm vm, byte[] data, String sha, int runs, int sizeMib) throws Exception {
    String dir = "/opt/vmlet-agent";
    // Under TCG the bundle's agent runs C1 alone (agent-tcg-flags.sh); a later flag wins.
    vm.sh("sed 's/[$]TCG_FLAGS/$TCG_FLAGS -XX:TieredStopAtLevel=4/' " + dir + "/agent.sh > " + dir + "/agent-c2.sh");
    for (String script : List.of("agent.sh", "agent-c2.sh")) {
      List<Double> ms = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        ms.add(Double.parseDouble(vm.sh("s=$(date +%s%N); sh " + dir + "/" + script + " --warm-up >/dev/null 2>&1; e=$(date +%s%N); "
            + "echo $(( (e - s) / 1000000 ))").trim()));
      }
      Bench.report("the agent's JVM start (" + script + " --warm-up, guest clock, 3 runs) (ms)", Bench.stats(ms, "%.0f"));
    }
    String pid = vm.sh("pidof java").trim();
    vm.sh("cp " + dir + "/agent-c2.sh " + dir + "/agent.sh; systemd-run --on-active=2 systemctl restart vmlet-agent.service");
    Poll.until("the agent to come back with C2", Duration.ofSeconds(180), () -> {
      try {
        String now = vm.sh("pidof java").trim();
        return !now.isEmpty() && !now.equals(pid);
      } catch (RuntimeException e) {
        return false; // the agent is restarting
      }
    });
    List<Double> push = new ArrayList<>();
    List<Double> pull = new ArrayList<>();
    double[] cpu = new double[2];
    for (int i = 0; i < runs; i++) {
      timedRound(vm, data, sha, push, pull, cpu);
    }
    Bench.report("vmlet agent with C2, " + sizeMib + " MiB host to guest (MB/s)", Bench.stats(push, "%.1f"));
    Bench.report("vmlet agent with C2, " + sizeMib + " MiB guest to host (MB/s)", Bench.stats(pull, "%.1f"));
    cpuPerMib("vmlet agent with C2", cpu, runs * sizeMib);
    Bench.report("vmlet agent with C2: resident memory in the guest, after the transfers (MiB)", String.format("%.1f", agentRssMib(vm)));
  }

  /**
   * A push of {@code data} to the guest and a pull of it back, each checked by its SHA-256: their
   * rates are added to {@code push} and {@code pull}, the agent's guest CPU seconds for each to
   * {@code cpu[0]} and {@code cpu[1]}.
   */
  private static void timedRound(BenchSupport.DebianVm vm, byte[] data, String sha, List<Double> push, List<Double> pull,
      double[] cpu) throws Exception {
    double c0 = guestCpuSeconds(vm, AGENT);
    long t0 = System.nanoTime();
    assertThat(vm.push("/root/bench.bin", data).getSha256()).isEqualTo(sha);
    push.add(mbps(data.length, System.nanoTime() - t0));
    double c1 = guestCpuSeconds(vm, AGENT);
    long t1 = System.nanoTime();
    assertThat(BenchSupport.sha(vm.pull("/root/bench.bin"))).isEqualTo(sha);
    pull.add(mbps(data.length, System.nanoTime() - t1));
    cpu[0] += c1 - c0;
    cpu[1] += guestCpuSeconds(vm, AGENT) - c1;
  }

  /** The last lines of the guest agent's journal (its own log, systemd's restarts, a JVM crash), on stderr. */
  private static void printAgentJournal(BenchSupport.DebianVm vm) {
    try {
      System.err.println("the guest agent's journal, last 60 lines:\n"
          + vm.sh("journalctl -u vmlet-agent --no-pager -n 60 -o short-precise; ls /opt/vmlet-agent/hs_err* 2>/dev/null || true"));
    } catch (RuntimeException journalFailed) {
      System.err.println("the guest agent's journal could not be read: " + journalFailed.getMessage());
    }
  }

  /** The agent's JVM: its own CPU only (the programs it runs are not part of a transfer). */
  private static final String AGENT = "$2 == \"(java)\" {t += $14 + $15}";
  /**
   * sshd's processes with what they reaped: the scp each transfer runs is a child of the reused
   * connection's sshd, and its CPU counts in that sshd's cutime and cstime once it exited.
   */
  private static final String SSHD = "$2 == \"(sshd)\" {t += $14 + $15 + $16 + $17}";

  /** CPU seconds (from /proc/PID/stat, in clock ticks) of the guest's processes an awk pattern picks, summed. */
  static double guestCpuSeconds(BenchSupport.DebianVm vm, String pick) {
    String[] out = vm.sh("awk '" + pick + " END {print t + 0}' /proc/[0-9]*/stat 2>/dev/null; getconf CLK_TCK").trim().split("\\s+");
    return Double.parseDouble(out[0]) / Double.parseDouble(out[1]);
  }

  /** The agent's resident memory (VmRSS of the guest's java process). */
  static double agentRssMib(BenchSupport.DebianVm vm) {
    return Long.parseLong(vm.sh("awk '/^VmRSS/ {print $2}' /proc/$(pidof java)/status").trim()) / 1024.0;
  }

  private static void cpuPerMib(String how, double[] seconds, int mib) {
    if (mib > 0) {
      Bench.report(how + ", guest CPU per MiB moved, host to guest / guest to host (ms)",
          String.format("%.1f / %.1f", seconds[0] * 1000 / mib, seconds[1] * 1000 / mib));
    }
  }

  /** One way of running a command in the guest; returns its standard output's length. */
  private interface Runner {
    int run(String command) throws Exception;
  }

  /**
   * The round trip of `true` and of a command printing 1 MiB, through vmlet, qemu-guest-agent
   * (guest-exec, then guest-exec-status every 10 ms), SSH with a new connection each time, and SSH
   * over one reused connection: p50 and p90 of each run, medians over runs.
   *
   * <p>Twice: first after one call of each (what the first calls to a new VM see: the agent's JIT
   * has compiled little of the path yet), then, for vmlet, qemu-guest-agent and the reused SSH
   * connection, again after {@code -Dbench.exec.warmCalls} (300) more calls of each command through
   * vmlet (10 through the others, which have no JIT to warm): a VM that has been running a while.
   */
  private void execRoundTrips(BenchSupport.DebianVm vm, Ssh ssh, int runs) throws Exception {
    Map<String, Runner> ways = new LinkedHashMap<>();
    ways.put("vmlet agent", c -> vm.sh(c).length());
    ways.put("qemu-guest-agent", c -> qgaExec(vm.qgaSocket(), c));
    ways.put("ssh, new connection", c -> ssh.run(false, c));
    ways.put("ssh, reused connection", c -> ssh.run(true, c));
    Bench.Chart chart = new Bench.Chart("exec-round-trip.png", "Exec round trip, one Debian guest under " + ApiEnums.word(vm.info().getAccel())
        + " (ms, median p50)", "ms");
    for (String command : EXEC_COMMANDS) {
      for (Runner way : ways.values()) {
        way.run(command); // warm
      }
      execRoundTrips(ways, command, runs, "", chart);
    }
    chart.write();
    int warm = Integer.getInteger("bench.exec.warmCalls", 300);
    ways.remove("ssh, new connection");
    for (String command : EXEC_COMMANDS) {
      for (var way : ways.entrySet()) {
        for (int i = 0; i < (way.getKey().equals("vmlet agent") ? warm : 10); i++) {
          way.getValue().run(command);
        }
      }
    }
    for (String command : EXEC_COMMANDS) {
      execRoundTrips(ways, command, runs, ", after " + warm + " more calls", null);
    }
    execHops(vm, runs);
    execInsideTheGuest(vm);
  }

  /** The exec rows' commands: `true`, and one printing 1 MiB (also AgentTurns' in its exec part). */
  static final String MIB_COMMAND = "head -c 1048576 /dev/zero";
  static final List<String> EXEC_COMMANDS = List.of("true", MIB_COMMAND);

  /** One command's round trips through each way, in turns call by call, {@code runs} runs of 10 calls (5 for a new SSH connection). */
  private static void execRoundTrips(Map<String, Runner> ways, String command, int runs, String when, Bench.Chart chart) throws Exception {
    // The ways in turns, call by call, so a busy moment of the machine hits each alike: the
    // ratios between them are what the figures are read for.
    Map<String, List<Double>> p50 = new LinkedHashMap<>();
    Map<String, List<Double>> p90 = new LinkedHashMap<>();
    for (int r = 0; r < runs; r++) {
      Map<String, List<Double>> ms = new LinkedHashMap<>();
      for (int i = 0; i < 10; i++) {
        for (var way : ways.entrySet()) {
          if (way.getKey().contains("new") && i >= 5) {
            continue; // 5 calls for a new SSH connection each
          }
          long t0 = System.nanoTime();
          int n = way.getValue().run(command);
          ms.computeIfAbsent(way.getKey(), k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e6);
          assertThat(n).as(way.getKey() + " output of " + command).isEqualTo(command.equals("true") ? 0 : MIB);
        }
      }
      ms.forEach((way, v) -> {
        p50.computeIfAbsent(way, k -> new ArrayList<>()).add(Bench.percentile(v, 50));
        p90.computeIfAbsent(way, k -> new ArrayList<>()).add(Bench.percentile(v, 90));
      });
    }
    String label = (command.equals("true") ? "true" : "1 MiB of output") + when;
    for (String way : ways.keySet()) {
      Bench.report("exec round trip, " + label + ", " + way + ": p50 / p90 (ms)",
          Bench.stats(p50.get(way), "%.0f") + " / " + Bench.stats(p90.get(way), "%.0f"));
      if (chart != null) {
        chart.bar(way, label, Bench.median(p50.get(way)));
      }
    }
    Bench.report("exec round trip, " + label + ", vmlet / qemu-guest-agent: p50 / p90", String.format("%.2f / %.2f",
        Bench.median(p50.get("vmlet agent")) / Bench.median(p50.get("qemu-guest-agent")),
        Bench.median(p90.get("vmlet agent")) / Bench.median(p90.get("qemu-guest-agent"))));
  }

  /**
   * Where an exec's round trip goes, one hop more per row: GetVm (the client and the daemon
   * only), ListFiles of a small directory (the daemon, the link and the agent, no program), an
   * exec of {@code true} by argv (the agent starts a program: posix_spawn, one exec), the same
   * through the bundle's busybox setsid (two execs, as the agent did before), and through {@code
   * /bin/sh -c} (what the exec rows above measure). In turns, call by call; p50 / p90 of 20 calls
   * per run, medians.
   */
  private static void execHops(BenchSupport.DebianVm vm, int runs) throws Exception {
    Map<String, Runner> hops = new LinkedHashMap<>();
    hops.put("GetVm (client and daemon only)", c -> vm.info().getSpec().getName().isEmpty() ? 1 : 0);
    hops.put("ListFiles /etc/vmlet (+ link and agent, no program)", c -> vm.listFiles("/etc/vmlet") > 0 ? 0 : 1);
    hops.put("exec argv true (+ the program's start)", c -> vm.exec("true"));
    hops.put("exec argv busybox setsid /bin/true (the two execs of before posix_spawn)",
        c -> vm.exec("/opt/vmlet-agent/bin/busybox", "setsid", "/bin/true"));
    hops.put("exec sh -c true (+ the guest's shell)", c -> vm.sh("true").length());
    Map<String, List<Double>> p50 = new LinkedHashMap<>();
    Map<String, List<Double>> p90 = new LinkedHashMap<>();
    for (var hop : hops.entrySet()) {
      assertThat(hop.getValue().run("")).as(hop.getKey()).isZero();
    }
    for (int r = 0; r < runs; r++) {
      Map<String, List<Double>> ms = new LinkedHashMap<>();
      for (int i = 0; i < 20; i++) {
        for (var hop : hops.entrySet()) { // in turns, call by call
          long t0 = System.nanoTime();
          assertThat(hop.getValue().run("")).as(hop.getKey()).isZero();
          ms.computeIfAbsent(hop.getKey(), k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e6);
        }
      }
      ms.forEach((hop, v) -> {
        p50.computeIfAbsent(hop, k -> new ArrayList<>()).add(Bench.percentile(v, 50));
        p90.computeIfAbsent(hop, k -> new ArrayList<>()).add(Bench.percentile(v, 90));
      });
    }
    for (String hop : hops.keySet()) {
      Bench.report("exec hops, " + hop + ": p50 / p90 (ms)", Bench.stats(p50.get(hop), "%.1f") + " / " + Bench.stats(p90.get(hop), "%.1f"));
    }
  }

  /**
   * What an exec costs inside the guest alone, on the guest's clock, started by its shell: the
   * floor under any agent's round trip, and the price of the {@code setsid} vmlet's agent starts
   * the program through (its own process group, so a cancel kills everything it started).
   */
  private static void execInsideTheGuest(BenchSupport.DebianVm vm) {
    for (String program : List.of("/bin/true", "setsid /bin/true", "/opt/vmlet-agent/bin/busybox setsid /bin/true", "/bin/sh -c true")) {
      String out = vm.sh("s=$(date +%s%N); for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do " + program
          + "; done; e=$(date +%s%N); echo $(( (e - s) / 20000 ))");
      Bench.report("exec inside the guest, no agent: " + program + ", mean of 20 (µs)", out.trim());
    }
  }

  /** SSH to the guest with the VM's key, optionally over one master connection. */
  static final class Ssh {
    private final Vm vm;
    private final Path control;

    Ssh(Vm vm, Path control) {
      this.vm = vm;
      this.control = control;
    }

    String remote(String path) {
      return vm.getSshUser() + "@" + vm.getSshHost() + ":" + path;
    }

    private List<String> options(boolean reuse) {
      List<String> o = new ArrayList<>(List.of("-i", vm.getSshIdentityFile(), "-o", "StrictHostKeyChecking=no", "-o",
          "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"));
      if (reuse) {
        o.addAll(List.of("-o", "ControlMaster=auto", "-o", "ControlPath=" + control, "-o", "ControlPersist=600"));
      }
      return o;
    }

    int run(boolean reuse, String command) throws Exception {
      List<String> cmd = new ArrayList<>(List.of("ssh", "-p", Integer.toString(vm.getSshPort())));
      cmd.addAll(options(reuse));
      cmd.add(vm.getSshUser() + "@" + vm.getSshHost());
      cmd.add(command);
      Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      int n = p.getInputStream().readAllBytes().length;
      assertThat(p.waitFor()).as("ssh " + command).isZero();
      return n;
    }

    /** The cipher and MAC sshd and this client agree on, both ways, as a new connection's `ssh -v` prints them. */
    String cipher() throws Exception {
      List<String> cmd = new ArrayList<>(List.of("ssh", "-p", Integer.toString(vm.getSshPort())));
      cmd.addAll(options(false));
      cmd.set(cmd.indexOf("LogLevel=ERROR"), "LogLevel=DEBUG1"); // the kex lines are debug output
      cmd.add(vm.getSshUser() + "@" + vm.getSshHost());
      cmd.add("true");
      Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      String log = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("ssh -v ended").isTrue();
      return String.join("; ", log.lines().filter(l -> l.contains("kex: ") && l.contains(" cipher: "))
          .map(l -> l.substring(l.indexOf("kex: ") + 5)).toList());
    }

    /** scp over the reused connection; {@code cipher} empty: sshd's choice (a named one needs a connection of its own). */
    void scp(String cipher, String from, String to) throws Exception {
      List<String> cmd = new ArrayList<>(List.of("scp", "-q", "-P", Integer.toString(vm.getSshPort())));
      cmd.addAll(options(true));
      if (!cipher.isEmpty()) {
        // A reused connection keeps the cipher it was opened with: this cipher gets its own.
        cmd.addAll(List.of("-c", cipher));
        cmd.set(cmd.indexOf("ControlPath=" + control), "ControlPath=" + control + "-" + cipher.replaceAll("[^A-Za-z0-9]", ""));
      }
      cmd.add(from);
      cmd.add(to);
      Process p = new ProcessBuilder(cmd).inheritIO().start();
      assertThat(p.waitFor()).as(String.join(" ", cmd)).isZero();
    }
  }

  /** guest-exec with captured output, then guest-exec-status every 10 ms until it exited; the output's length. */
  static int qgaExec(Path socket, String command) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket.toFile()))) {
      OutputStream out = s.getOutputStream();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      sync(out, in);
      JsonObject started = call(out, in, "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\",\"arg\":[\"-c\",\""
          + command + "\"],\"capture-output\":true}}");
      assertThat(started.has("return")).as(started.toString()).isTrue();
      int pid = started.getAsJsonObject("return").get("pid").getAsInt();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (true) {
        JsonObject st = call(out, in, "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":" + pid + "}}")
            .getAsJsonObject("return");
        if (st.get("exited").getAsBoolean()) {
          assertThat(st.get("exitcode").getAsInt()).isZero();
          return st.has("out-data") ? Base64.getDecoder().decode(st.get("out-data").getAsString()).length : 0;
        }
        assertThat(System.nanoTime()).as("QGA's exec of '%s' ended within 120 s", command).isLessThan(deadline);
        // Polling is QGA's own protocol (guest-exec-status is the only way to learn of the end), and
        // its 10 ms interval is part of what this bench measures: a fixed pause, not Poll's.
        Thread.sleep(10);
      }
    }
  }

  /** guest-sync until it echoes our id: answers left over from an earlier client are skipped. */
  private static void sync(OutputStream out, BufferedReader in) throws Exception {
    JsonObject sync = call(out, in, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":4242}}\n");
    for (int i = 0; i < 5 && !(sync.has("return") && sync.get("return").getAsInt() == 4242); i++) {
      sync = call(out, in, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":4242}}\n");
    }
    assertThat(sync.toString()).contains("4242");
  }

  /** guest-file-open, guest-file-read in 1 MiB base64 chunks until EOF, checked against {@code expected}; MB/s. */
  static double qgaRead(Path socket, String path, byte[] expected) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket.toFile()))) {
      OutputStream out = s.getOutputStream();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      sync(out, in);
      long t0 = System.nanoTime();
      JsonObject opened = call(out, in, "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\",\"mode\":\"r\"}}");
      int handle = opened.get("return").getAsInt();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      while (true) {
        JsonObject r = call(out, in, "{\"execute\":\"guest-file-read\",\"arguments\":{\"handle\":" + handle + ",\"count\":" + MIB + "}}")
            .getAsJsonObject("return");
        got.writeBytes(Base64.getDecoder().decode(r.get("buf-b64").getAsString()));
        if (r.get("eof").getAsBoolean()) {
          break;
        }
      }
      call(out, in, "{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "}}");
      double rate = mbps(got.size(), System.nanoTime() - t0);
      assertThat(got.toByteArray()).isEqualTo(expected);
      return rate;
    }
  }

  /** guest-file-open, guest-file-write in 1 MiB base64 chunks, guest-file-close; MB/s. */
  static double qgaWrite(Path socket, String path, byte[] data, int size) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket.toFile()))) {
      OutputStream out = s.getOutputStream();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      sync(out, in);
      long t0 = System.nanoTime();
      JsonObject opened = call(out, in, "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\",\"mode\":\"w\"}}");
      assertThat(opened.has("return")).as(opened.toString()).isTrue();
      int handle = opened.get("return").getAsInt();
      for (int off = 0; off < size; off += MIB) {
        String b64 = Base64.getEncoder().encodeToString(Arrays.copyOfRange(data, off, Math.min(size, off + MIB)));
        JsonObject r = call(out, in, "{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":" + handle + ",\"buf-b64\":\"" + b64 + "\"}}");
        assertThat(r.has("return")).as(r.toString()).isTrue();
      }
      call(out, in, "{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "}}");
      return mbps(size, System.nanoTime() - t0);
    }
  }

  private static JsonObject call(OutputStream out, BufferedReader in, String json) throws Exception {
    out.write(json.getBytes(StandardCharsets.UTF_8));
    out.flush();
    while (true) {
      String line = in.readLine();
      if (line == null) {
        throw new IllegalStateException("qemu-guest-agent closed the channel");
      }
      line = line.replace("\u00ff", "").strip();
      if (!line.isEmpty()) {
        return JsonParser.parseString(line).getAsJsonObject();
      }
    }
  }

  static double rawGuestToHost(BenchSupport.DebianVm vm, int mib) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(vm.qgaSocket().toFile()))) {
      InputStream in = s.getInputStream();
      Thread dd = new Thread(() -> vm.sh("dd if=/dev/zero of=/dev/virtio-ports/org.qemu.guest_agent.0 bs=1M count=" + mib + " 2>/dev/null"));
      byte[] buf = new byte[MIB];
      long total = 0;
      dd.start();
      int n = in.read(buf);
      long t0 = System.nanoTime();
      total += n;
      while (total < (long) mib * MIB && (n = in.read(buf)) > 0) {
        total += n;
      }
      long elapsed = System.nanoTime() - t0;
      dd.join();
      return mbps(total, elapsed);
    }
  }

  static double rawHostToGuest(BenchSupport.DebianVm vm, int mib) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(vm.qgaSocket().toFile()))) {
      OutputStream out = s.getOutputStream();
      String[] result = new String[1];
      Thread dd = new Thread(() -> result[0] = vm.sh("dd if=/dev/virtio-ports/org.qemu.guest_agent.0 of=/dev/null bs=1M count=" + mib
          + " iflag=fullblock 2>&1 | tail -n 1"));
      dd.start();
      Poll.until("dd in the guest to have the port open", Duration.ofSeconds(60), () -> !vm.sh(
          "t=$(readlink -f /dev/virtio-ports/org.qemu.guest_agent.0); ls -l /proc/[0-9]*/fd 2>/dev/null | grep \" $t$\" || true").isBlank());
      byte[] buf = new byte[MIB];
      long t0 = System.nanoTime();
      for (int i = 0; i < mib; i++) {
        out.write(buf);
      }
      dd.join();
      long elapsed = System.nanoTime() - t0;
      assertThat(result[0]).contains("copied");
      return mbps((long) mib * MIB, elapsed);
    }
  }

  static double mbps(long bytes, long nanos) {
    return bytes / 1e6 / (nanos / 1e9);
  }

}
