package dev.vmlet.vm;

import dev.vmlet.spec.ImageResolver;
import dev.vmlet.spec.SnapshotInfo;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.fs.FileTrees;
import dev.vmlet.disk.Disks;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.vfio.GpuLedger;
import dev.vmlet.vfio.Gpus;
import dev.vmlet.vfio.PciBus;
import dev.vmlet.vfio.SysfsWriter;
import dev.vmlet.qemu.CpuPinning;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.proto.v1.ExecStart;
import dev.vmlet.proto.v1.Hello;
import dev.vmlet.qemu.Accel;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.qemu.VmFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * The single owner of VM state on this host. Every state change goes through {@link
 * VmTransitions} and is persisted by {@link VmStore} after its side effect succeeded. Calls block
 * (they start and stop QEMU): never call them from an event-loop thread.
 */
public final class VmManager implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(VmManager.class.getName());
  static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);

  private final VmletPaths paths;
  private final VmStore store;
  private final ImageResolver images;
  private final Clock clock;
  private final Disks disks;
  private final QemuImg qemuImg;
  private final VmSnapshots snapshots;
  private final LaunchPlanner planner;
  private final Gpus gpus;
  private final AccelProbe probe;
  private final String qemuBinary;
  private final Map<String, VmRuntime> vms = new ConcurrentHashMap<>();
  private volatile boolean closing;
  private final VmEvents events;
  private final VmLinks links;
  private final VmControls controls;
  private final StartCheck startCheck;

  public VmManager(VmletPaths paths, ImageResolver images, AccelProbe probe, String qemuBinary, Clock clock) {
    this(paths, images, probe, qemuBinary, clock, defaultGpus(paths, Path.of("/sys"), null));
  }

  /** The host's GPUs under {@code sysfs}, their ledger in the state directory. */
  public static Gpus defaultGpus(VmletPaths paths, Path sysfs, Path hook) {
    try {
      return new Gpus(new PciBus(sysfs, SysfsWriter.KERNEL), new GpuLedger(paths.stateDir().resolve("gpus.json")), hook);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the GPU ledger " + paths.stateDir().resolve("gpus.json") + ": " + e.getMessage(), e);
    }
  }

  public VmManager(VmletPaths paths, ImageResolver images, AccelProbe probe, String qemuBinary, Clock clock, Gpus gpus) {
    this(paths, images, probe, qemuBinary, clock, gpus, StartCheck.NONE);
  }

  /**
   * What must hold before every start, beyond the VM's state: the host files and devices its spec
   * names must still be its owner's to use (see api.OwnerChecks).
   */
  public interface StartCheck {
    StartCheck NONE = (record, daemonOwned) -> { };

    /**
     * @param daemonOwned the VM's directory of files the daemon put there itself (a cloud image's root disk)
     * @throws VmException when the VM must not start, saying why
     */
    void check(VmRecord record, Path daemonOwned);
  }

  /** @param startCheck asked before every start, after the state allowed it and before anything changes */
  public VmManager(VmletPaths paths, ImageResolver images, AccelProbe probe, String qemuBinary, Clock clock, Gpus gpus,
      StartCheck startCheck) {
    this.startCheck = startCheck;
    this.gpus = gpus;
    this.probe = probe;
    this.qemuBinary = qemuBinary;
    this.paths = paths;
    this.store = new VmStore(paths.stateDir());
    this.images = images;
    this.clock = clock;
    this.qemuImg = new QemuImg(QemuImg.beside(qemuBinary));
    this.disks = new Disks(qemuImg);
    this.snapshots = new VmSnapshots(qemuImg);
    this.planner = new LaunchPlanner(images, probe, disks, Path.of("/"), gpus, qemuBinary);
    this.events = new VmEvents(clock);
    this.links = new VmLinks(clock, events, this::onQemuGone);
    this.controls = new VmControls(store, events, qemuImg, snapshots);
  }

  /** Loads persisted VMs and re-adopts the QEMU processes that still run; nothing is killed. */
  public void recover() {
    for (VmRecord r : store.loadAll()) {
      VmRuntime vm = new VmRuntime(r, filesOf(r.config().name()));
      vms.put(vm.name(), vm);
      VmState s = r.state();
      if (s == VmState.RUNNING || s == VmState.PAUSED || s == VmState.STARTING || s == VmState.STOPPING) {
        Optional<ProcessHandle> p = QemuProcess.find(vm.files.pidFile(), r.startedAtMs());
        synchronized (vm) {
          if (p.isPresent() && p.get().pid() == r.pid()) {
            vm.process = p.get();
            try {
              links.connect(vm);
              LOG.info("VM " + vm.name() + " (" + r.instanceId() + "): re-adopted QEMU pid " + r.pid());
            } catch (IOException e) {
              LOG.warning("VM " + vm.name() + ": QEMU pid " + r.pid() + " runs but cannot be reached: " + e.getMessage());
              vm.record = vm.record.withError("re-adopt failed: " + e.getMessage());
            }
          } else {
            VmState to = s == VmState.STOPPING ? VmState.STOPPED : VmState.CRASHED;
            events.transition(vm, to, "recover", x -> x.withError("QEMU (pid " + r.pid() + ") exited while the daemon was down"));
            store.save(vm.record);
          }
        }
      }
    }
    // GPUs a VM still holds that no longer runs (it crashed while no daemon watched) go back now.
    gpus.recover(vms.values().stream().filter(v -> v.process != null).map(VmRuntime::name).collect(java.util.stream.Collectors.toSet()));
  }

  public Gpus gpus() {
    return gpus;
  }

  public String qemuBinary() {
    return qemuBinary;
  }

  /** What VMs with accel auto get (probed once per daemon). */
  public dev.vmlet.qemu.Accel autoAccel() {
    return probe.resolve("auto");
  }

  /** Whether a VM of this name runs (holds its QEMU process). */
  public boolean isRunning(String name) {
    VmRuntime vm = vms.get(name);
    ProcessHandle p = vm == null ? null : vm.process;
    return p != null && p.isAlive();
  }

  public VmRecord create(VmConfig config, boolean start) {
    return create(config, start, null);
  }

  /** @param owner who creates it, kept for the checks before each start; null: none kept */
  public VmRecord create(VmConfig config, boolean start, VmOwner owner) {
    long hostMib = hostMemoryMib();
    if (config.memoryMib() > hostMib) {
      throw VmException.invalid("memory_mib " + config.memoryMib() + " is more than this host has (" + hostMib + " MiB)");
    }
    String instanceId = UUID.randomUUID().toString();
    VmFiles files = filesOf(config.name());
    VmRuntime vm = new VmRuntime(VmRecord.created(config, instanceId, null), files);
    if (vms.putIfAbsent(config.name(), vm) != null) {
      throw new VmException(VmException.Kind.ALREADY_EXISTS, "a VM named '" + config.name() + "' already exists");
    }
    // Check what can be checked before anything is written, so a refused create leaves nothing.
    VmRecord r;
    try {
      planner.checkHost(config, files);
      try {
        VmConfig prepared = planner.prepareCloudImage(config, files);
        r = VmRecord.created(prepared, instanceId, owner);
        vm.record = r;
        store.save(r);
      } catch (IOException | RuntimeException e) {
        FileTrees.deleteTree(files.stateDir());
        throw e instanceof RuntimeException re ? re
            : new VmException(VmException.Kind.INTERNAL, "cannot prepare VM '" + config.name() + "': " + e.getMessage(), e);
      }
    } catch (RuntimeException e) {
      vms.remove(config.name());
      throw e;
    }
    LOG.info("VM " + config.name() + " (" + r.instanceId() + "): created");
    // The host paths of this create were decided for its caller a moment ago: not again.
    return start ? start(config.name(), false) : r;
  }

  /** Starts a VM; its host paths are decided again for the caller who created it ({@link StartCheck}). */
  public VmRecord start(String name) {
    return start(name, true);
  }

  private VmRecord start(String name, boolean checkOwner) {
    VmRuntime vm = require(name);
    synchronized (vm) {
      // Outside the try: a refused start changes nothing.
      VmTransitions.require(name, vm.record.state(), VmTransitions.Operation.START);
      if (checkOwner) {
        startCheck.check(vm.record, vm.files.baseDir());
      }
      store.save(vm.record); // a state directory that cannot take the new state refuses the start here
      events.transition(vm, VmState.STARTING, "start");
      try {
        VmConfig config = vm.record.config();
        Files.createDirectories(vm.files.runDir());
        Files.createDirectories(vm.files.stateDir());
        Files.deleteIfExists(vm.files.consoleLog());
        LaunchPlanner.Plan plan = planner.plan(config, vm.record.instanceId(), vm.files, true);
        List<String> cmd = plan.argv();
        Accel accel = plan.accel();
        if (!config.gpus().isEmpty()) {
          try {
            var taken = gpus.take(name, LaunchPlanner.addresses(config));
            var user = dev.vmlet.qemu.QemuSandbox.user();
            if (user.isPresent()) {
              for (Path group : gpus.groupDevices(taken)) {
                user.get().handOver(group); // QEMU opens it as its user; the kernel removes it when the group leaves vfio-pci
              }
            }
          } catch (IOException e) {
            throw new VmException(VmException.Kind.FAILED_PRECONDITION, "gpus: " + e.getMessage(), e);
          }
        }
        long startedAt = clock.millis();
        vm.process = QemuProcess.launch(cmd, vm.files, Duration.ofSeconds(30));
        vm.hello = null;
        vm.agentReadyAtMs = 0;
        vm.agentBootId = "";
        vm.guestShutdown = false;
        vm.timeline = VmConfig.isCloudImage(config.image()) ? new BootTimeline(clock) : null;
        vm.record = vm.record.withStarted(vm.process.pid(), accel.name(), accel.reason(), startedAt,
            QemuCommandBuilder.toShellLine(cmd), plan.forwards());
        try {
          links.connect(vm);
          CpuPinning.apply(vm.qmp, config.tuning().cpuPinning(), QMP_TIMEOUT);
          BootTimeline timeline = vm.timeline;
          ProcessHandle qemu = vm.process;
          if (timeline != null) {
            plan.forwards().stream().filter(f -> f.guestPort() == LaunchPlanner.SSH_PORT && f.protocol().equals("tcp")).findFirst()
                .ifPresent(f -> timeline.watchSsh(name, f.hostAddress().equals("0.0.0.0") ? "127.0.0.1" : f.hostAddress(),
                    f.hostPort(), qemu::isAlive));
          }
        } catch (IOException | RuntimeException e) {
          // Never leave a QEMU behind for a start that failed.
          vm.process.destroyForcibly();
          QemuProcess.awaitExit(vm.process, Duration.ofSeconds(5));
          VmLinks.drop(vm);
          throw e;
        }
        events.transition(vm, VmState.RUNNING, "start");
        store.save(vm.record);
        LOG.info("VM " + name + " (" + vm.record.instanceId() + "): running, QEMU pid " + vm.process.pid()
            + ", " + accel.name() + " (" + accel.reason() + ")");
        return vm.record;
      } catch (IOException | RuntimeException e) {
        String msg = e.getMessage();
        release(vm); // before the state says so: a reader that sees STOPPED finds nothing of the VM's left
        settle(vm, VmState.STOPPED, "mark stopped", r -> r.withError(msg).withPid(0));
        LOG.warning("VM " + name + ": start failed: " + msg);
        if (e instanceof VmException ve) {
          throw ve;
        }
        throw new VmException(VmException.Kind.INTERNAL, "cannot start VM '" + name + "': " + msg, e);
      }
    }
  }

  /** The QMP socket closed: QEMU is gone. Decide STOPPED or CRASHED and release the VM's files. */
  private void onQemuGone(VmRuntime vm) {
    Thread t = new Thread(() -> {
      synchronized (vm) {
        if (closing) {
          return; // the daemon is going away; QEMU keeps running
        }
        if (vm.process != null && !QemuProcess.awaitExit(vm.process, Duration.ofSeconds(5))) {
          LOG.warning("VM " + vm.name() + ": QMP closed but QEMU pid " + vm.process.pid() + " still runs");
          return;
        }
        VmState s = vm.record.state();
        if (s == VmState.STOPPED || s == VmState.CRASHED || s == VmState.CREATED) {
          return; // a stop already accounted for it
        }
        VmLinks.drop(vm);
        release(vm); // before the state says so: a reader that sees CRASHED finds nothing of the VM's left
        if (s == VmState.STOPPING || vm.guestShutdown) {
          settle(vm, VmState.STOPPED, "mark stopped", r -> r.withPid(0));
        } else {
          String why = "QEMU exited unexpectedly; console tail: " + consoleTail(vm);
          settle(vm, VmState.CRASHED, "mark crashed", r -> r.withError(why).withPid(0));
          LOG.warning("VM " + vm.name() + " (" + vm.record.instanceId() + "): crashed");
        }
        vm.notifyAll();
      }
    }, "vm-exit-" + vm.name());
    t.setDaemon(true);
    t.start();
  }

  /**
   * Stops a VM: the agent's poweroff and ACPI powerdown, then QMP quit, then SIGTERM, then SIGKILL,
   * each bounded. With force the graceful step is skipped.
   */
  public VmRecord stop(String name, boolean force, Duration graceful) {
    VmRuntime vm = require(name);
    synchronized (vm) {
      VmState s = vm.record.state();
      VmTransitions.require(name, s, VmTransitions.Operation.STOP);
      if (!force) {
        store.save(vm.record); // refused before anything is done when the state cannot be saved
      }
      if (s == VmState.STOPPED || s == VmState.CRASHED) {
        if (s == VmState.CRASHED) {
          events.transition(vm, VmState.STOPPED, "stop");
          store.save(vm.record);
        }
        return vm.record;
      }
      events.transition(vm, VmState.STOPPING, "stop");
      StopLadder.run(vm, s, force, graceful);
      VmLinks.drop(vm);
      // QEMU is gone: its ports and cards are released even when the state cannot be written, and
      // before the state says STOPPED, so that a reader who sees it finds nothing of the VM's left.
      release(vm);
      settle(vm, VmState.STOPPED, "stop", r -> r.withPid(0));
      LOG.info("VM " + name + " (" + vm.record.instanceId() + "): stopped");
      return vm.record;
    }
  }

  public void delete(String name, boolean force) {
    VmRuntime vm = require(name);
    synchronized (vm) {
      VmState s = vm.record.state();
      boolean live = s == VmState.RUNNING || s == VmState.PAUSED || s == VmState.STARTING || s == VmState.STOPPING;
      if (!force) {
        VmTransitions.require(name, s, VmTransitions.Operation.DELETE);
      }
      if (!Files.isWritable(store.dirOf(name).getParent())) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, "cannot delete VM '" + name + "': its state directory "
            + store.dirOf(name) + " is not writable (read-only file system?); nothing was changed; make it writable and retry");
      }
      if (live) {
        stop(name, true, Duration.ZERO);
      }
      store.delete(name);
      FileTrees.deleteTree(vm.files.runDir());
      vms.remove(name);
      events.emit(vm, LifecycleEvent.Kind.DELETED, "deleted");
      LOG.info("VM " + name + " (" + vm.record.instanceId() + "): deleted");
    }
  }

  /** The VM as it is now; never waits for a change in progress (see {@link VmRuntime}). */
  public VmView get(String name) {
    return view(require(name));
  }

  /** Every VM as it is now, by name; never waits for a change in progress. */
  public List<VmView> list() {
    List<VmView> out = new ArrayList<>();
    for (VmRuntime vm : vms.values()) {
      out.add(view(vm));
    }
    out.sort(Comparator.comparing(v -> v.record().config().name()));
    return out;
  }

  /**
   * Grows a disk: live through QMP block_resize when QEMU runs, with qemu-img otherwise. The new
   * size is kept in the VM's config.
   */
  public VmRecord resizeDisk(String name, String disk, long sizeMib) {
    return controls.resizeDisk(require(name), disk, sizeMib);
  }

  public List<SnapshotInfo> listSnapshots(String name) {
    return controls.listSnapshots(require(name));
  }

  /** Takes a snapshot: with memory when the VM runs or is paused, disk-only when it is stopped. */
  public SnapshotInfo createSnapshot(String name, String snapshot) {
    return controls.createSnapshot(require(name), snapshot);
  }

  public void restoreSnapshot(String name, String snapshot) {
    controls.restoreSnapshot(require(name), snapshot);
  }

  public void deleteSnapshot(String name, String snapshot) {
    controls.deleteSnapshot(require(name), snapshot);
  }

  /** Freezes the vCPUs of a running VM. */
  public VmRecord pause(String name) {
    return controls.qmpStep(require(name), VmTransitions.Operation.PAUSE, VmState.PAUSED, "stop");
  }

  /** Lets a paused VM run again. */
  public VmRecord resume(String name) {
    return controls.qmpStep(require(name), VmTransitions.Operation.RESUME, VmState.RUNNING, "cont");
  }

  /** Hardware reset; the VM stays RUNNING and its agent phones home again from the new boot. */
  public VmRecord reboot(String name) {
    return controls.reboot(require(name));
  }

  /** The command line a VM with this config would run, without creating or starting anything. */
  public DryRun dryRun(VmConfig config) {
    try {
      LaunchPlanner.Plan plan = planner.plan(config, "INSTANCE-ID", filesOf(config.name()), false);
      return new DryRun(plan.argv(), plan.accel().reason());
    } catch (IOException e) {
      throw new VmException(VmException.Kind.INTERNAL, "cannot plan VM '" + config.name() + "': " + e.getMessage(), e);
    }
  }

  /** What {@link #dryRun} found. */
  public record DryRun(List<String> argv, String accelReason) {}

  /** Blocks until the VM's agent is ready, the VM stops, or the timeout passes. */
  public VmView awaitAgentReady(String name, Duration timeout) throws InterruptedException {
    VmRuntime vm = require(name);
    long deadline = System.nanoTime() + timeout.toNanos();
    BootTimeline timeline;
    long startedAt;
    synchronized (vm) {
      while (vm.hello == null) {
        VmState s = vm.record.state();
        VmTransitions.require(name, s, VmTransitions.Operation.WAIT_FOR_AGENT);
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        vm.wait(Math.max(1, left / 1_000_000));
      }
      if (vm.hello != null) {
        return view(vm);
      }
      timeline = vm.timeline;
      startedAt = vm.record.startedAtMs();
    }
    // Outside the lock: finding out why may ask the guest over SSH.
    String refusal = vm.agentRefusal;
    if (refusal != null) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, refusal);
    }
    throw new VmException(VmException.Kind.DEADLINE_EXCEEDED, "the agent of VM '" + name + "' did not phone home within "
        + timeout.toSeconds() + " s" + BootTimeline.whyNoAgent(timeline, startedAt, vm.files.consoleLog(), identity(vm)));
  }

  private static Path identity(VmRuntime vm) {
    return vm.files.sshDir().resolve("id_ed25519");
  }

  /**
   * Attaches to a VM's serial console: guest output goes to {@code out}, {@code ended} runs when
   * the VM goes away. Returns the link to type into and the handle that detaches.
   */
  public ConsoleSession openConsole(String name, Consumer<byte[]> out, Runnable ended) {
    VmRuntime vm = require(name);
    // No lock: attaching to a console that is closing runs ended at once.
    VmTransitions.require(name, vm.record.state(), VmTransitions.Operation.CONSOLE);
    ConsoleLink console = vm.console;
    if (console == null) {
      throw new VmException(VmException.Kind.UNAVAILABLE, "the console of VM '" + name + "' is not connected");
    }
    return new ConsoleSession(console, console.attach(out, ended));
  }

  /** An attached console: type with {@code link().write}, detach with {@code detach().close()}. */
  public record ConsoleSession(ConsoleLink link, AutoCloseable detach) {}

  /** Starts a program in the guest; results go to the listener. */
  public void exec(String name, ExecStart start, ExecListener listener) {
    AgentLink link = agent(name);
    try {
      link.exec(start, listener);
    } catch (IOException e) {
      throw new VmException(VmException.Kind.UNAVAILABLE, e.getMessage(), e);
    }
  }

  /**
   * The agent link of a running VM, for file transfers.
   *
   * @throws VmException FAILED_PRECONDITION in the wrong state, UNAVAILABLE when the agent is not connected
   */
  public AgentLink agent(String name) {
    VmRuntime vm = require(name);
    // No lock: an exec must not wait for another VM operation (a stop waiting out its guest, say).
    VmTransitions.require(name, vm.record.state(), VmTransitions.Operation.EXEC);
    AgentLink link = vm.agent;
    if (vm.hello == null || link == null) {
      throw new VmException(VmException.Kind.UNAVAILABLE, "the agent of VM '" + name + "' is not connected yet; try again shortly");
    }
    return link;
  }

  private static long hostMemoryMib() {
    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return os.getTotalMemorySize() / (1024 * 1024);
  }

  /** Reads without a lock; the record first (see {@link VmRuntime}). */
  private VmView view(VmRuntime vm) {
    VmRecord record = vm.record;
    Hello hello = vm.hello;
    BootTimeline t = vm.timeline;
    ConsoleLink console = vm.console;
    Path identity = identity(vm);
    return new VmView(record, hello, vm.agentReadyAtMs, vm.files.consoleLog(), t == null ? 0 : t.cloudInitDoneAtMs,
        t == null ? 0 : t.sshReadyAtMs, Files.exists(identity) ? identity : null,
        // Only for a boot this daemon started: after a re-adoption the first output seen is not the boot's.
        t != null && console != null ? console.firstOutputAtMs() : 0);
  }

  private VmRuntime require(String name) {
    VmConfig.validateName(name);
    VmRuntime vm = vms.get(name);
    if (vm == null) {
      throw VmException.notFound(name);
    }
    return vm;
  }

  /**
   * QEMU is gone and its resources are released: the VM settles in {@code to}, saved first, so that
   * a reader who sees the new state (readers take no lock) also finds it on disk. This path must go
   * on when the state directory fails (QEMU is already gone): a save that fails is logged and kept
   * as the VM's error, and the next change that saves writes the whole record. Caller holds the
   * VM's monitor.
   */
  private void settle(VmRuntime vm, VmState to, String action, java.util.function.UnaryOperator<VmRecord> also) {
    VmTransitions.check(vm.name(), vm.record.state(), to, action);
    VmRecord next = also.apply(vm.record.withState(to));
    try {
      store.save(next);
    } catch (VmException e) {
      LOG.warning("VM " + vm.name() + ": " + e.getMessage());
      next = next.withError(next.lastError() + (next.lastError().isEmpty() ? "" : "; ") + e.getMessage());
    }
    VmRecord settled = next;
    events.transition(vm, to, action, r -> settled);
  }

  /**
   * Calls the watcher with every lifecycle event from now on, on the thread that caused it; it must
   * not block. Close the returned handle to stop.
   */
  public AutoCloseable watch(Consumer<LifecycleEvent> watcher) {
    return events.watch(watcher);
  }

  private VmFiles filesOf(String name) {
    return new VmFiles(paths.vmRunDir(name), paths.vmStateDir(name));
  }

  /** QEMU is gone: its sockets and pidfile go, and its GPUs go back to the host. */
  private void release(VmRuntime vm) {
    try {
      FileTrees.deleteTree(vm.files.runDir());
    } catch (RuntimeException e) {
      LOG.warning("VM " + vm.name() + ": cannot clean " + vm.files.runDir() + ": " + e.getMessage());
    }
    gpus.giveBack(vm.name());
  }

  private static String consoleTail(VmRuntime vm) {
    try {
      List<String> lines = Files.readAllLines(vm.files.consoleLog());
      return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    } catch (IOException e) {
      return "(no console log)";
    }
  }

  /** Closes the links to every VM; VMs keep running and are re-adopted by the next daemon. */
  @Override
  public void close() {
    closing = true;
    for (VmRuntime vm : vms.values()) {
      synchronized (vm) {
        VmLinks.closeAll(vm);
      }
    }
  }
}
