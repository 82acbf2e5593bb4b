package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.it.BenchSupport;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Not part of the test run: {@code ./scripts/bench clone}. A micro template and its clones: launch
 * to agent ready (an exec answered) from the template next to a cold boot of the same image, taken
 * in turns in the same run; the template's size; and the host memory each of 10 clones running at
 * once adds (QEMU's private memory and PSS).
 */
class CloneBench {
  private static final int MEMORY_MIB = 256;

  @TempDir Path tmp;

  @Test
  void cloneToReady_nextToColdBoot_andMemoryPerClone() throws Exception {
    int runs = Bench.runs();
    int clones = Integer.getInteger("bench.clones", 10);
    try (BenchSupport.MicroNode node = BenchSupport.microNode(tmp)) {
      // The template as CreateTemplate makes it (after the agent's native set-up) and, to compare in
      // turns, one saved at once from a VM that ran no exec: its agent holds no JNA, so its clones set
      // the clock and MAC with date and ip and start their first program the JDK's way (the way
      // before templates waited for that set-up). -Dbench.clone.compare=false leaves that one out.
      boolean compare = Boolean.parseBoolean(System.getProperty("bench.clone.compare", "true"));
      node.start("src", MEMORY_MIB);
      long made = System.nanoTime();
      Template t = node.saveTemplate(CreateTemplateRequest.newBuilder().setName("tpl").setVm("src"));
      Bench.report("micro template: CreateTemplate, the agent's native set-up waited for, then " + t.getAgentWarmUpExecs()
          + " execs to warm it (s)", String.format("%.2f", (System.nanoTime() - made) / 1e9));
      node.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("src").setForce(true).build());
      // One saved after the set-up but not warmed (skip_warm_up): its clones' agents compile their exec path over their first calls.
      node.start("src-unwarmed", MEMORY_MIB);
      made = System.nanoTime();
      node.saveTemplate(CreateTemplateRequest.newBuilder().setName("tpl-unwarmed").setVm("src-unwarmed").setSkipWarmUp(true));
      Bench.report("micro template: CreateTemplate with skip_warm_up (s)", String.format("%.2f", (System.nanoTime() - made) / 1e9));
      delete(node, "src-unwarmed");
      Bench.report("micro template (" + MEMORY_MIB + " MiB guest): saved state / everything (MiB)",
          String.format("%.1f / %.1f", t.getStateBytes() / 1048576.0, t.getSizeBytes() / 1048576.0));
      if (compare) {
        node.start("src-old", MEMORY_MIB);
        made = System.nanoTime();
        node.saveTemplate(CreateTemplateRequest.newBuilder().setName("tpl-old").setVm("src-old").setSkipAgentSetup(true));
        Bench.report("micro template: CreateTemplate with skip_agent_setup, no exec before (s)", String.format("%.2f",
            (System.nanoTime() - made) / 1e9));
        delete(node, "src-old");
      }

      List<Launch> cold = new ArrayList<>();
      List<Launch> clone = new ArrayList<>();
      List<Launch> unwarmed = new ArrayList<>();
      List<Launch> oldClone = new ArrayList<>();
      List<String> guestLines = new ArrayList<>();
      List<String> oldGuestLines = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        cold.add(launchToExec(node, "cold" + i, ""));
        clone.add(launchToExec(node, "clone" + i, "tpl"));
        guestLines.addAll(Files.readAllLines(node.vmStateDir("clone" + i).resolve("console.log")));
        delete(node, "cold" + i);
        delete(node, "clone" + i);
        unwarmed.add(launchToExec(node, "unwarmed" + i, "tpl-unwarmed"));
        delete(node, "unwarmed" + i);
        if (compare) {
          oldClone.add(launchToExec(node, "old" + i, "tpl-old"));
          oldGuestLines.addAll(Files.readAllLines(node.vmStateDir("old" + i).resolve("console.log")));
          delete(node, "old" + i);
        }
      }
      Bench.report("micro: launch to exec answered, cold boot (s)", Bench.stats(seconds(cold, Launch::exec), "%.2f"));
      Bench.report("micro: launch to exec answered, clone of a template (s)", Bench.stats(seconds(clone, Launch::exec), "%.2f"));
      if (compare) {
        Bench.report("micro: launch to exec answered, clone of a template saved without the agent's native set-up (s)",
            Bench.stats(seconds(oldClone, Launch::exec), "%.2f"));
        Bench.report("micro clone without the native set-up, s after CreateVm was called: WaitAgentReady returned",
            Bench.stats(seconds(oldClone, Launch::ready), "%.2f"));
        Bench.report("micro clone without the native set-up: a second exec of true (s)",
            Bench.stats(seconds(oldClone, Launch::secondExec), "%.2f"));
        reportGuestBreakdown("micro clone without the native set-up", oldGuestLines);
      }
      Bench.report("micro clone, s after CreateVm was called: CreateVm returned", Bench.stats(seconds(clone, Launch::created), "%.2f"));
      Bench.report("micro clone, s after CreateVm was called: WaitAgentReady returned", Bench.stats(seconds(clone, Launch::ready), "%.2f"));
      Bench.report("micro clone, s after CreateVm was called: exec of true answered", Bench.stats(seconds(clone, Launch::exec), "%.2f"));
      Bench.report("micro clone: a second exec of true (s)", Bench.stats(seconds(clone, Launch::secondExec), "%.2f"));
      Bench.report("micro cold boot: a second exec of true (s)", Bench.stats(seconds(cold, Launch::secondExec), "%.2f"));
      Bench.report("micro clone of a template saved with skip_warm_up: a second exec of true (s)",
          Bench.stats(seconds(unwarmed, Launch::secondExec), "%.2f"));
      String calls = "p50 of its " + FIRST_CALLS + " execs of true after the first two (ms)";
      Bench.report("micro cold boot: " + calls, Bench.stats(seconds(cold, Launch::firstCallsMs), "%.1f"));
      Bench.report("micro clone of a template saved with skip_warm_up: " + calls, Bench.stats(seconds(unwarmed, Launch::firstCallsMs), "%.1f"));
      Bench.report("micro clone of a template as CreateTemplate saves it (agent warmed): " + calls,
          Bench.stats(seconds(clone, Launch::firstCallsMs), "%.1f"));
      reportCloneBreakdown(tmp.resolve("daemon.log"));
      reportGuestBreakdown("micro clone", guestLines);
      new Bench.Chart("clone-launch.png", "Micro VM: launch to exec answered (s, medians, same run)", "s")
          .bar("seconds", "cold boot", Bench.median(seconds(cold, Launch::exec)))
          .bar("seconds", "clone of a template", Bench.median(seconds(clone, Launch::exec)))
          .write();

      List<Vm> running = new ArrayList<>();
      for (int i = 0; i < clones; i++) {
        launchToExec(node, "many" + i, "tpl");
        running.add(node.client.vms().getVm(dev.vmlet.proto.v1.VmRef.newBuilder().setName("many" + i).build()));
      }
      List<Double> rss = new ArrayList<>();
      List<Double> pss = new ArrayList<>();
      List<Double> priv = new ArrayList<>();
      for (Vm vm : running) {
        rss.add(rollup(vm.getPid(), "Rss:"));
        pss.add(rollup(vm.getPid(), "Pss:"));
        priv.add(rollup(vm.getPid(), "Private_Clean:") + rollup(vm.getPid(), "Private_Dirty:"));
      }
      Bench.report(clones + " clones of one micro template running at once: QEMU RSS per clone (MiB)", Bench.stats(rss, "%.0f"));
      Bench.report(clones + " clones: QEMU PSS per clone (MiB)", Bench.stats(pss, "%.0f"));
      Bench.report(clones + " clones: QEMU private memory per clone, RSS minus shared (MiB)", Bench.stats(priv, "%.0f"));
    }
  }

  private static final Pattern LAUNCH_BEGAN = Pattern.compile("VM (clone\\d+): clone of template \\S+, QEMU's launch began (\\d+) ms");
  private static final Pattern RESUMED = Pattern.compile("VM (clone\\d+): resumed from template \\S+, ms after the start: QEMU up (\\d+),"
      + " state loaded (\\d+), running (\\d+), links connected (\\d+)");
  private static final Pattern READY = Pattern.compile("VM (clone\\d+): clone agent ready, ms after the start: Hello arrived (-?\\d+),"
      + " ready (\\d+)");

  /** Where the clones' starts went, from the daemon's log lines (VmManager, VmStarter, VmLinks): medians over the runs. */
  private static void reportCloneBreakdown(Path daemonLog) throws Exception {
    String[] names = {"QEMU up", "state loaded", "running (cont)", "links connected", "agent Hello arrived", "agent ready"};
    List<List<Double>> phases = new ArrayList<>();
    for (int i = 0; i < names.length; i++) {
      phases.add(new ArrayList<>());
    }
    List<Double> before = new ArrayList<>();
    for (String line : Files.readAllLines(daemonLog)) {
      Matcher began = LAUNCH_BEGAN.matcher(line);
      if (began.find()) {
        before.add(Double.parseDouble(began.group(2)) / 1000);
      }
      Matcher m = RESUMED.matcher(line);
      if (m.find()) {
        for (int i = 0; i < 4; i++) {
          phases.get(i).add(Double.parseDouble(m.group(i + 2)) / 1000);
        }
      }
      m = READY.matcher(line);
      if (m.find()) {
        phases.get(4).add(Double.parseDouble(m.group(2)) / 1000);
        phases.get(5).add(Double.parseDouble(m.group(3)) / 1000);
      }
    }
    Bench.report("micro clone: CreateVm in the daemon until QEMU's launch began (s)",
        before.isEmpty() ? "not in the daemon's log" : Bench.stats(before, "%.2f"));
    for (int i = 0; i < names.length; i++) {
      Bench.report("micro clone, s after the start of QEMU's launch: " + names[i],
          phases.get(i).isEmpty() ? "not in the daemon's log" : Bench.stats(phases.get(i), "%.2f"));
    }
  }

  private static final Pattern GUEST = Pattern.compile("resumed in a new VM: .*; ms after the host was seen gone: identity taken (\\d+),"
      + " Hello written (\\d+), Welcome read (\\d+), proof written (\\d+), clock and MAC set (\\d+)");

  private static final Pattern MORE = Pattern.compile("interfaces found (\\d+), Hello loop woke (\\d+), identity read (\\d+)");

  /** Where the clones' starts went in the guest, from the agent's line in their console logs: medians over the runs. */
  private static void reportGuestBreakdown(String what, List<String> consoleLines) {
    String[] names = {"identity taken (hostname, seed)", "Hello written", "Welcome read", "proof written", "clock and MAC set",
        "Hello loop woke", "identity read (fw_cfg)", "interfaces with the old MAC found (after the proof)"};
    List<List<Double>> steps = new ArrayList<>();
    for (int i = 0; i < names.length; i++) {
      steps.add(new ArrayList<>());
    }
    java.util.Map<String, Integer> ways = new java.util.TreeMap<>();
    List<String> timed = new ArrayList<>();
    for (String line : consoleLines) {
      Matcher m = GUEST.matcher(line);
      if (m.find()) {
        Matcher how = Pattern.compile("clock and MAC set \\d+ \\(([^)]*)\\)").matcher(line);
        String said = how.find() ? how.group(1) : "not said";
        ways.merge(said.replaceAll(" in \\d+ ms", ""), 1, Integer::sum);
        timed.add(said);
        for (int i = 0; i < 5; i++) {
          steps.get(i).add(Double.parseDouble(m.group(i + 1)) / 1000);
        }
        Matcher more = MORE.matcher(line);
        if (more.find()) {
          steps.get(5).add(Double.parseDouble(more.group(2)) / 1000);
          steps.get(6).add(Double.parseDouble(more.group(3)) / 1000);
          steps.get(7).add(Double.parseDouble(more.group(1)) / 1000);
        }
      }
    }
    Bench.report(what + ", in the guest: how the clock and MAC were set (clones)", ways.toString());
    Bench.report(what + ", in the guest: each clone's clock and MAC steps", String.join(" | ", timed));
    for (int i = 0; i < names.length; i++) {
      Bench.report(what + ", in the guest, s after its agent saw the host gone (the resume): " + names[i],
          steps.get(i).isEmpty() ? "not in the clones' console logs" : Bench.stats(steps.get(i), "%.2f"));
    }
  }

  /**
   * Seconds from CreateVm (called) to its return, the agent ready, an exec answered; a second exec's
   * own; and the median in ms of the {@link #FIRST_CALLS} execs after those two.
   */
  record Launch(double created, double ready, double exec, double secondExec, double firstCallsMs) {}

  private static final int FIRST_CALLS = Integer.getInteger("bench.clone.firstCalls", 20);

  private static List<Double> seconds(List<Launch> launches, java.util.function.ToDoubleFunction<Launch> what) {
    return launches.stream().map(l -> what.applyAsDouble(l)).toList();
  }

  private static Launch launchToExec(BenchSupport.MicroNode node, String name, String template) {
    long t0 = System.nanoTime();
    node.create(VmSpec.newBuilder().setName(name).setMemoryMib(template.isEmpty() ? MEMORY_MIB : 0).build(), template);
    long created = System.nanoTime();
    node.waitReady(name);
    long ready = System.nanoTime();
    assertThat(node.exec(name, "true")).isZero();
    long exec = System.nanoTime();
    assertThat(node.exec(name, "true")).isZero();
    long second = System.nanoTime();
    List<Double> calls = new ArrayList<>();
    for (int i = 0; i < FIRST_CALLS; i++) {
      long c0 = System.nanoTime();
      assertThat(node.exec(name, "true")).isZero();
      calls.add((System.nanoTime() - c0) / 1e6);
    }
    return new Launch((created - t0) / 1e9, (ready - t0) / 1e9, (exec - t0) / 1e9, (second - exec) / 1e9, Bench.median(calls));
  }

  private static void delete(BenchSupport.MicroNode node, String name) {
    node.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
  }

  /** A field of /proc/PID/smaps_rollup, in MiB. */
  private static double rollup(long pid, String field) throws Exception {
    return BenchSupport.smapsRollupKiB(pid, field) / 1024.0;
  }
}
