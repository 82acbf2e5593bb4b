package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.it.BenchSupport;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmRef;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.api.ApiEnums;
import java.util.Random;
import dev.vmlet.proto.v1.BootBreakdown;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Locale;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.qemu.QemuCommandBuilder;

/**
 * Not part of the test run: {@code ./scripts/bench micro}. Micro VMs under this host's accelerator:
 * boot to agent ready and where its time went (firmware, kernel, init, agent JVM, handshake; with
 * {@code -Dbench.micro.bootOnly=true} only that; {@code -Dbench.micro.images=micro,micro-generic}
 * boots each of these images in turns, and {@code micro-bzImage} among them boots the micro image's
 * bzImage instead of its vmlinux, and any other name a copy of an image directory in the cache under
 * that name, for a before/after in one run); the agent's JVM start with and without its
 * class-data-sharing archive; and density: the daemon's memory per running VM, QEMU's memory,
 * processes and threads per VM, the agent's memory in the guest. {@code -Dbench.micro.execOnly=true}:
 * only the exec round trips in one VM (a minute; for working on exec); with {@code
 * -Dbench.micro.compareImage=DIR} in turns with a second VM booted from DIR's bzImage and initramfs
 * (another tree's agent). {@code -Dbench.micro.hops=true}: an exec's time hop by hop ({@link #hops}).
 */
class MicroVmBench {
  @TempDir Path tmp;

  @Test
  void bootJvmStartAndDensity() throws Exception {
    int runs = Bench.runs();
    int density = Integer.getInteger("bench.density.vms", 4);
    if (Boolean.getBoolean("bench.micro.hops")) {
      System.setProperty("vmlet.trace.hops", "true"); // the daemon started below traces its execs
    }
    try (BenchSupport.MicroNode node = BenchSupport.microNode(tmp)) {
      if (Boolean.getBoolean("bench.micro.hops")) {
        node.start(bootSpec("hops", "micro-bzImage", " vmlet_trace=hops"));
        hops(node, tmp.resolve("daemon.log"), runs);
        return;
      }
      if (Boolean.getBoolean("bench.micro.execOnly")) {
        String other = System.getProperty("bench.micro.compareImage", "");
        if (other.isBlank()) {
          node.start("jvm", 384);
          execRoundTrips(node, runs, List.of("jvm"));
        } else {
          // Both boot their bzImage, so that only the initramfs (the agent) differs between them.
          node.start(bootSpec("jvm", "micro-bzImage"));
          Path dir = Path.of(other);
          node.start(VmSpec.newBuilder().setName("other").setMemoryMib(384).setKernel(KernelBoot.newBuilder()
              .setPath(dir.resolve("vmlinuz").toString()).setInitrd(dir.resolve("initrd.img").toString())
              .setCmdline(QemuCommandBuilder.MICRO_COMMAND_LINE)).build());
          execRoundTrips(node, runs, List.of("jvm", "other"));
        }
        return;
      }
      // Boot: one VM per image started and stopped again, `runs` times, the images in turns (so a
      // busy moment hits each alike); where the time went, from Vm.boot_breakdown.
      List<String> images = List.of(System.getProperty("bench.micro.images", "micro").split(","));
      if (images.contains("micro-generic") || images.contains("micro-generic-bzImage")) {
        BenchSupport.buildMicroGeneric();
      }
      Map<String, List<Double>> ready = new LinkedHashMap<>();
      Map<String, Map<String, List<Double>>> phases = new LinkedHashMap<>();
      String accel = "";
      for (int i = 0; i < runs; i++) {
        for (String image : images) {
          String name = image.equals("micro") ? "boot" : "boot-" + image.toLowerCase(Locale.ROOT);
          Vm vm = i == 0 ? node.start(bootSpec(name, image)) : startAgain(node, name);
          accel = ApiEnums.word(vm.getAccel());
          ready.computeIfAbsent(image, k -> new ArrayList<>()).add((vm.getAgentReadyAtUnixMs() - vm.getStartedAtUnixMs()) / 1000.0);
          BootBreakdown b = vm.getBootBreakdown();
          assertThat(b.getKernelMs()).as("the breakdown's kernel phase (the agent reports its boot times)").isPositive();
          Map<String, List<Double>> ph = phases.computeIfAbsent(image, k -> new LinkedHashMap<>());
          phase(ph, "firmware (QEMU start to kernel start)", b.getFirmwareMs());
          phase(ph, "kernel to /init", b.getKernelMs());
          phase(ph, "/init to agent JVM start (modules, mounts, devices)", b.getInitMs());
          phase(ph, "agent JVM start to main()", b.getAgentJvmMs());
          phase(ph, "agent main() to Hello", b.getAgentMainMs());
          phase(ph, "handshake (Hello to agent ready)", b.getHandshakeMs());
          node.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).stopVm(StopVmRequest.newBuilder().setName(name).setForce(true).build());
        }
      }
      for (String image : images) {
        Bench.report(image + " VM (" + accel + "): QEMU start to agent ready (s)", Bench.stats(ready.get(image), "%.2f"));
        for (var p : phases.get(image).entrySet()) {
          Bench.report(image + " VM (" + accel + ") boot breakdown: " + p.getKey() + " (s)", Bench.stats(p.getValue(), "%.2f"));
        }
      }
      if (Boolean.getBoolean("bench.micro.bootOnly")) {
        return;
      }

      // The agent's JVM start (its --warm-up: frames, protobuf, one exec) with and without the CDS archive.
      node.start("jvm", 384);
      // agent.sh as the image has it (its JVM flags and archive), once as is, once with sharing off.
      String withArchive = "cd /opt/vmlet && ./agent.sh --warm-up";
      String withoutArchive = "cd /opt/vmlet && eval \"$(sed -n 's/^exec //p' agent.sh | sed 's/-Xshare:auto/-Xshare:off/;"
          + " s/-XX:SharedArchiveFile=[^ ]*//; s/\"\\$@\"/--warm-up/')\"";
      List<Double> withCds = new ArrayList<>();
      List<Double> withoutCds = new ArrayList<>();
      List<Double> plain = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        plain.add(execMs(node, "jvm", "true"));
        withCds.add(execMs(node, "jvm", withArchive));
        withoutCds.add(execMs(node, "jvm", withoutArchive));
      }
      Bench.report("agent JVM start in the micro VM, with the CDS archive (exec round trip, ms)", Bench.stats(withCds, "%.0f"));
      Bench.report("agent JVM start in the micro VM, without it (-Xshare:off) (ms)", Bench.stats(withoutCds, "%.0f"));
      Bench.report("exec round trip of 'true' in the same VM, for scale (ms)", Bench.stats(plain, "%.0f"));
      new Bench.Chart("micro-boot.png", "Micro VM under " + accel + ": where the time to agent ready goes (s, medians)", "s")
          .bar("seconds", "QEMU start to agent ready", Bench.median(ready.get(images.get(0))))
          .bar("seconds", "firmware", Bench.median(phases.get(images.get(0)).get("firmware (QEMU start to kernel start)")))
          .bar("seconds", "kernel to /init", Bench.median(phases.get(images.get(0)).get("kernel to /init")))
          .bar("seconds", "agent JVM start, CDS", Bench.median(withCds) / 1000)
          .bar("seconds", "agent JVM start, no CDS", Bench.median(withoutCds) / 1000)
          .write();

      // Density: the daemon's resident memory with 1 VM (jvm) and with `density` VMs running.
      double daemonWithOne = rssMib(node.daemonPid());
      List<Vm> vms = new ArrayList<>();
      for (int i = 1; i < density; i++) {
        vms.add(node.start("d" + i, 384));
      }
      vms.add(node.client.vms().getVm(VmRef.newBuilder().setName("jvm").build()));
      // A quiet spell, not a wait for an event: the figure is the daemon at rest with every VM running,
      // and nothing announces rest.
      Thread.sleep(2000);
      double daemonWithAll = rssMib(node.daemonPid());
      List<Double> qemuRss = new ArrayList<>();
      List<Double> qemuThreads = new ArrayList<>();
      List<Double> agentRss = new ArrayList<>();
      for (Vm vm : vms) {
        qemuRss.add(rssMib(vm.getPid()));
        qemuThreads.add((double) Long.parseLong(status(vm.getPid(), "Threads:")));
        String kb = node.sh(vm.getSpec().getName(), "grep VmRSS /proc/$PPID/status").replaceAll("[^0-9]", "");
        agentRss.add(Long.parseLong(kb) / 1024.0);
      }
      Bench.report("daemon resident memory, 1 VM running / " + density + " VMs running (MiB)",
          String.format("%.0f / %.0f: %.1f MiB per further VM", daemonWithOne, daemonWithAll, (daemonWithAll - daemonWithOne) / (density - 1)));
      Bench.report("QEMU per micro VM (384 MiB guest): resident memory (MiB)", Bench.stats(qemuRss, "%.0f"));
      Bench.report("QEMU per micro VM: processes / threads", "1 / " + Bench.stats(qemuThreads, "%.0f"));
      Bench.report("agent resident memory in the guest (MiB)", Bench.stats(agentRss, "%.1f"));

      // Exec and transfer through the agent of a micro VM (its root file system is in RAM).
      List<Double> push = new ArrayList<>();
      List<Double> pull = new ArrayList<>();
      byte[] data = new byte[64 << 20];
      new Random(5).nextBytes(data);
      String sha = BenchSupport.sha(data);
      // `vmlet cp` as typed (its own JVM each time) into a VM of `vmlet launch` with its defaults
      // (1 vCPU, 512 MiB, the micro image, q35, an SSH forward), in turns with the API's figure above.
      Path local = tmp.resolve("bench.bin");
      Files.write(local, data);
      BenchSupport.typed(node.socket(), "launch", "--name", "cp");
      List<Double> cpPush = new ArrayList<>();
      List<Double> cpPull = new ArrayList<>();
      for (int i = 0; i < Math.min(runs, 3); i++) {
        push.add(Bench.mbPerSecond(data.length, () -> assertThat(node.push("jvm", "/tmp/bench.bin", data).getSha256()).isEqualTo(sha)));
        pull.add(Bench.mbPerSecond(data.length, () -> assertThat(BenchSupport.sha(node.pull("jvm", "/tmp/bench.bin"))).isEqualTo(sha)));
        cpPush.add(data.length / 1e6 / BenchSupport.typed(node.socket(), "cp", local.toString(), "cp:/tmp/bench.bin"));
        Path back = tmp.resolve("back.bin");
        cpPull.add(data.length / 1e6 / BenchSupport.typed(node.socket(), "cp", "cp:/tmp/bench.bin", back.toString()));
        assertThat(BenchSupport.sha(Files.readAllBytes(back))).isEqualTo(sha);
        Files.delete(back);
      }
      execRoundTrips(node, runs, List.of("jvm"));
      Bench.report("micro VM: push / pull of 64 MiB (MB/s)", Bench.stats(push, "%.1f") + " / " + Bench.stats(pull, "%.1f"));
      Bench.report("micro VM: `vmlet cp` as typed, 64 MiB in / out of a VM of `vmlet launch --name cp` defaults, in turns with the"
          + " line above (MB/s)", Bench.stats(cpPush, "%.1f") + " / " + Bench.stats(cpPull, "%.1f") + String.format(
          " (%.0f%% / %.0f%% of the API's medians)", 100 * Bench.median(cpPush) / Bench.median(push), 100 * Bench.median(cpPull) / Bench.median(pull)));
      node.sh("jvm", "rm -f /tmp/bench.bin");

    }
  }

  /**
   * A VM of {@code image}; "micro-bzImage" and "micro-generic-bzImage" are that image booted as
   * before the images held a vmlinux: its bzImage as the user's kernel, with the image's command line.
   * Any other name is a copy of an image directory under that name in the cache's {@code images}
   * (say main's micro image copied to {@code images/micro-base}, for a before/after in one run),
   * booted as the daemon boots a micro image: its vmlinux (its bzImage when it has none) and
   * initramfs, with the micro command line.
   */
  private static VmSpec bootSpec(String name, String image) {
    return bootSpec(name, image, "");
  }

  /** {@code extraCmdline}: kernel parameters after the micro image's own. */
  private static VmSpec bootSpec(String name, String image, String extraCmdline) {
    VmSpec.Builder spec = VmSpec.newBuilder().setName(name).setMemoryMib(384);
    if (image.equals("micro") || image.equals("micro-generic")) {
      return spec.setImage(image).build();
    }
    boolean bzImage = image.endsWith("-bzImage");
    Path dir = VmletPaths.fromEnvironment().cacheDir().resolve("images")
        .resolve(bzImage ? image.substring(0, image.length() - "-bzImage".length()) : image);
    Path kernel = bzImage || !Files.isRegularFile(dir.resolve("vmlinux")) ? dir.resolve("vmlinuz") : dir.resolve("vmlinux");
    assertThat(kernel).as("image " + image + ": a kernel in " + dir).isRegularFile();
    return spec.setKernel(KernelBoot.newBuilder().setPath(kernel.toString()).setInitrd(dir.resolve("initrd.img").toString())
        .setCmdline(QemuCommandBuilder.MICRO_COMMAND_LINE + extraCmdline)).build();
  }

  /**
   * The exec round trip of {@code true} by argv, p50 of 20 per run; in turns with {@code setsid
   * true}, two execs in the guest where the agent's own exec makes one: what an exec of {@code
   * true} cost before the agent started programs with posix_spawn (it exec'd a setsid first); and
   * a ListFiles of /etc, the same round trip through the daemon and the agent with no program.
   *
   * <p>Twice: first right after the boot (the agent's, the daemon's and this client's JIT have not
   * compiled the path yet: what the first calls to a new VM see), then again after {@code
   * -Dbench.micro.warmCalls} (300) more of each call in turns, unmeasured: a VM and a daemon that
   * have been running a while (the agent runs C1 alone, which compiles a method after some hundreds
   * of calls). Then, with one image, a third time: the first calls to a VM booted after that, whose
   * agent is new and whose daemon and client are warm (a new VM on a daemon that has been serving;
   * the first VM idle beside it), which tells the host's part of the warm-up from the VM's; and a
   * fourth: the first calls to a clone of a template saved from the first VM then (a new QEMU
   * resuming that warm agent); and a fifth: the first calls to the first VM's agent restarted, a
   * new JVM in a guest and a QEMU that have served those calls, which tells the agent's JVM from the
   * rest of the VM (its QEMU's translated code under TCG, the guest kernel's caches).
   */
  private static void execRoundTrips(BenchSupport.MicroNode node, int runs, List<String> vms) throws Exception {
    execRoundTrips(node, runs, vms, "the first calls after the boot");
    int warm = Integer.getInteger("bench.micro.warmCalls", 300);
    for (int k = 0; k < warm; k++) {
      for (String vm : vms) {
        execCalls(node, vm, null, null, null);
      }
    }
    execRoundTrips(node, runs, vms, "after " + warm + " more of each");
    if (vms.equals(List.of("jvm"))) {
      node.start("fresh", 384);
      execRoundTrips(node, runs, List.of("fresh"), "a VM booted after those calls: its first calls (new agent, warm daemon and client)");
      // A clone of a template saved from the first VM now, whose agent has served those calls: a new
      // QEMU that resumes a warm agent JVM instead of booting one. -Dbench.micro.warmClone=false leaves it out.
      if (Boolean.parseBoolean(System.getProperty("bench.micro.warmClone", "true"))) {
        node.saveTemplate(CreateTemplateRequest.newBuilder().setName("warm").setVm("jvm"));
        node.clone("clone", "warm");
        execRoundTrips(node, runs, List.of("clone"), "a clone of the first VM saved after those calls: its first calls (its agent's JVM resumed)");
      }
      // Clones of two templates saved from VMs that served no call, one as CreateTemplate saves it (its
      // agent warmed with execs first) and one with skip_warm_up, their first calls in turns, the daemon
      // and client warm. -Dbench.micro.templateWarmUp=false leaves it out.
      if (Boolean.parseBoolean(System.getProperty("bench.micro.templateWarmUp", "true"))) {
        node.start("src-warmed", 384);
        node.start("src-unwarmed", 384);
        long t0 = System.nanoTime();
        Template warmed = node.saveTemplate(CreateTemplateRequest.newBuilder().setName("warmed").setVm("src-warmed"));
        long t1 = System.nanoTime();
        node.saveTemplate(CreateTemplateRequest.newBuilder().setName("unwarmed").setVm("src-unwarmed").setSkipWarmUp(true));
        Bench.report("micro template: CreateTemplate as by default, its agent warmed with " + warmed.getAgentWarmUpExecs()
            + " execs / with skip_warm_up (s)", String.format("%.2f / %.2f", (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9));
        node.clone("c-warmed", "warmed");
        node.clone("c-unwarmed", "unwarmed");
        execRoundTrips(node, runs, List.of("c-warmed", "c-unwarmed"), "clones of a template saved from a VM that served no"
            + " call, [c-warmed] its agent warmed by CreateTemplate (" + warmed.getAgentWarmUpExecs() + " execs), [c-unwarmed]"
            + " saved with skip_warm_up, in turns: their first calls");
      }
      // -Dbench.micro.restartFlags="A;B": the agent restarted with each set of JVM flags in turn, rounds times.
      List<String> sets = List.of(System.getProperty("bench.micro.restartFlags", "-Dvmlet.bench.restarted=true").split(";"));
      for (int round = 0; round < Integer.getInteger("bench.micro.restartRounds", 1); round++) {
        for (String flags : sets) {
          restartAgentWith(node, "jvm", flags);
          execRoundTrips(node, runs, List.of("jvm"), "the first VM's agent restarted after those calls"
              + (sets.size() > 1 ? " with " + flags : "") + ": its first calls (new agent JVM, the rest warm)");
        }
      }
    }
  }

  private static void execRoundTrips(BenchSupport.MicroNode node, int runs, List<String> vms, String when) {
    Map<String, List<Double>> p50 = new LinkedHashMap<>();
    Map<String, List<Double>> p50Setsid = new LinkedHashMap<>();
    Map<String, List<Double>> p50List = new LinkedHashMap<>();
    for (int i = 0; i < runs; i++) {
      Map<String, List<Double>> ms = new LinkedHashMap<>();
      Map<String, List<Double>> msSetsid = new LinkedHashMap<>();
      Map<String, List<Double>> msList = new LinkedHashMap<>();
      for (int k = 0; k < 20; k++) {
        for (String vm : vms) { // with a second image (-Dbench.micro.compareImage), the VMs in turns call by call
          execCalls(node, vm, msList.computeIfAbsent(vm, x -> new ArrayList<>()), ms.computeIfAbsent(vm, x -> new ArrayList<>()),
              msSetsid.computeIfAbsent(vm, x -> new ArrayList<>()));
        }
      }
      for (String vm : vms) {
        p50.computeIfAbsent(vm, x -> new ArrayList<>()).add(Bench.percentile(ms.get(vm), 50));
        p50Setsid.computeIfAbsent(vm, x -> new ArrayList<>()).add(Bench.percentile(msSetsid.get(vm), 50));
        p50List.computeIfAbsent(vm, x -> new ArrayList<>()).add(Bench.percentile(msList.get(vm), 50));
      }
    }
    for (String vm : vms) {
      String of = (vm.equals("other") ? " [image " + System.getProperty("bench.micro.compareImage") + "]"
          : vms.size() > 1 ? " [" + vm + "]" : "") + ", " + when;
      Bench.report("micro VM" + of + ": exec round trip of `true` (argv, no shell), p50 of 20 (ms)", Bench.stats(p50.get(vm), "%.0f"));
      Bench.report("micro VM" + of + ": exec round trip of `setsid true` in turns with it (the two execs of before), p50 of 20 (ms)",
          Bench.stats(p50Setsid.get(vm), "%.0f"));
      Bench.report("micro VM" + of + ": ListFiles /etc in turns with them (daemon, link and agent, no program), p50 of 20 (ms)",
          Bench.stats(p50List.get(vm), "%.0f"));
    }
  }

  /** A ListFiles of /etc, an exec of `true` and one of `setsid true`, each timed into its list (null: not kept). */
  private static void execCalls(BenchSupport.MicroNode node, String vm, List<Double> list, List<Double> exec, List<Double> setsid) {
    long t2 = System.nanoTime();
    assertThat(node.listFiles(vm, "/etc")).isPositive();
    long t0 = System.nanoTime();
    assertThat(node.exec(vm, "true")).isZero();
    long t1 = System.nanoTime();
    assertThat(node.exec(vm, "setsid", "true")).isZero();
    long t3 = System.nanoTime();
    if (list != null) {
      list.add((t0 - t2) / 1e6);
      exec.add((t1 - t0) / 1e6);
      setsid.add((t3 - t1) / 1e6);
    }
  }

  /**
   * {@code -Dbench.micro.hops=true}: where an exec's and a ListFiles' time goes, hop by hop. The VM
   * boots with {@code vmlet_trace=hops} and the daemon runs with {@code -Dvmlet.trace.hops=true}, so
   * each logs one line per request (HopTrace in the agent, ExecCalls in the daemon); the medians of
   * each hop over {@code 20 * runs} calls, and the link's share: the daemon's wait for the reply less
   * the agent's time from reading the request to writing the reply. With {@code
   * -Dbench.micro.agentFlags="FLAGS"} a second VM's agent runs with these JVM flags added (its
   * agent.sh edited in the guest, the agent restarted), and the calls go to the two VMs in turns.
   */
  private static void hops(BenchSupport.MicroNode node, Path daemonLog, int runs) throws Exception {
    List<String> vms = new ArrayList<>(List.of("hops"));
    String flags = System.getProperty("bench.micro.agentFlags", "");
    if (!flags.isBlank()) {
      node.start(bootSpec("hopsflags", "micro-bzImage", " vmlet_trace=hops"));
      restartAgentWith(node, "hopsflags", flags);
      vms.add("hopsflags");
    }
    Map<String, List<Double>> exec = new LinkedHashMap<>();
    Map<String, List<Double>> list = new LinkedHashMap<>();
    for (int i = 0; i < 20 * runs; i++) {
      for (String vm : vms) {
        long t0 = System.nanoTime();
        assertThat(node.listFiles(vm, "/etc")).isPositive();
        list.computeIfAbsent(vm, k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e6);
        long t1 = System.nanoTime();
        assertThat(node.exec(vm, "true")).isZero();
        exec.computeIfAbsent(vm, k -> new ArrayList<>()).add((System.nanoTime() - t1) / 1e6);
      }
    }
    // The last lines reach the logs a moment after the replies (the agent logs after writing).
    Thread.sleep(1000);
    for (String vm : vms) {
      String label = vm.equals("hops") ? "agent as built" : "agent with " + flags;
      Map<Integer, Map<String, Long>> guest = HopLines.parse(Files.readString(node.vmStateDir(vm).resolve("console.log")),
          "hops stream (\\d+) (?:exec|list):");
      Map<Integer, Map<String, Long>> host = HopLines.parse(Files.readString(daemonLog), "hops exec VM " + vm + " stream (\\d+):");
      Bench.report("hops (" + label + "): client wall time, exec `true` / ListFiles /etc, p50 / p90 of " + exec.get(vm).size() + " (ms)",
          String.format("%.1f / %.1f, %.1f / %.1f", Bench.median(exec.get(vm)), Bench.percentile(exec.get(vm), 90),
              Bench.median(list.get(vm)), Bench.percentile(list.get(vm), 90)));
      for (var e : HopLines.medians(host).entrySet()) {
        Bench.report("hops (" + label + "): daemon, exec, call in to " + e.getKey() + " (ms, median)", String.format("%.2f", e.getValue() / 1000));
      }
      for (String kind : List.of("exec", "list")) {
        Map<Integer, Map<String, Long>> ofKind = new LinkedHashMap<>();
        guest.forEach((id, h) -> {
          if (h.containsKey(kind.equals("exec") ? "exit-sent" : "end-sent")) {
            ofKind.put(id, h);
          }
        });
        Map<Integer, Map<String, Long>> times = HopLines.hopsOnly(ofKind);
        Map<String, Double> total = HopLines.medians(times);
        Map<String, Double> step = HopLines.medians(HopLines.steps(times));
        for (var e : total.entrySet()) {
          Bench.report("hops (" + label + "): agent, " + kind + ", frame read to " + e.getKey() + " (ms, median; the step from the hop before)",
              String.format("%.2f (%.2f)", e.getValue() / 1000, step.get(e.getKey()) / 1000));
        }
      }
      List<Double> link = new ArrayList<>();
      for (var h : host.entrySet()) {
        Map<String, Long> g = guest.get(h.getKey());
        if (g != null && g.containsKey("exit-sent")) {
          link.add((h.getValue().get("reply-read") - h.getValue().get("frame-written") - g.get("exit-sent")) / 1000.0);
        }
      }
      Bench.report("hops (" + label + "): exec, the link both ways (daemon's wait less the agent's time), median of " + link.size() + " (ms)",
          link.isEmpty() ? "no lines" : String.format("%.2f", Bench.median(link)));
    }
  }

  /**
   * Adds {@code flags} to the JVM's flags in the guest's agent.sh and restarts the agent (init
   * starts it again); returns once the new agent answers, within 180 s.
   */
  private static void restartAgentWith(BenchSupport.MicroNode node, String vm, String flags) throws Exception {
    // sed's replacement treats & and a backslash specially; grep -F below, because flags such as
    // CompileCommand patterns (dev.vmlet.*::*) are no regular expression of themselves.
    assertThat(flags).as("agent flags").doesNotContain("|").doesNotContain("'").doesNotContain("&").doesNotContain("\\");
    // From the image's agent.sh each time (kept aside at the first restart): flags never add up.
    node.sh(vm, "cp -n /opt/vmlet/agent.sh /opt/vmlet/agent.sh.image && cp /opt/vmlet/agent.sh.image /opt/vmlet/agent.sh"
        + " && sed -i 's|-Xshare:auto|" + flags + " -Xshare:auto|' /opt/vmlet/agent.sh && grep -qF -- '" + flags
        + "' /opt/vmlet/agent.sh && (sleep 1; kill -9 $PPID) </dev/null >/dev/null 2>&1 &");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    Thread.sleep(3000); // the old agent is gone by then (killed 1 s after its answer)
    while (true) {
      try {
        if (node.sh(vm, "tr '\\0' ' ' < /proc/$PPID/cmdline").contains(flags)) {
          return;
        }
      } catch (RuntimeException e) {
        // the new agent is not ready yet
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the agent of " + vm + " did not come back with " + flags + " within 180 s");
      }
      Thread.sleep(1000);
    }
  }

  private static void phase(Map<String, List<Double>> phases, String what, long ms) {
    phases.computeIfAbsent(what, k -> new ArrayList<>()).add(ms / 1000.0);
  }

  private static Vm startAgain(BenchSupport.MicroNode node, String name) {
    node.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build());
    return node.waitReady(name);
  }

  private static double execMs(BenchSupport.MicroNode node, String vm, String line) {
    long t0 = System.nanoTime();
    String out = node.sh(vm, line + " >/dev/null 2>&1 && echo ok");
    double ms = (System.nanoTime() - t0) / 1e6;
    assertThat(out).as(line).isEqualTo("ok\n");
    return ms;
  }

  private static String status(long pid, String field) throws Exception {
    for (String l : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (l.startsWith(field)) {
        return l.substring(field.length()).replaceAll("[^0-9]", "");
      }
    }
    throw new AssertionError(field + " not in /proc/" + pid + "/status");
  }

  private static double rssMib(long pid) throws Exception {
    return Long.parseLong(status(pid, "VmRSS:")) / 1024.0;
  }
}
