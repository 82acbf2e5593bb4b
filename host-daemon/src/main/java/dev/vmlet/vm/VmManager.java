package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.disk.Disks;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.qemu.Accel;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.qemu.QemuLauncher;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.spec.ImageResolver;
import dev.vmlet.spec.SnapshotInfo;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import dev.vmlet.vfio.GpuLedger;
import dev.vmlet.vfio.Gpus;
import dev.vmlet.vfio.PciBus;
import dev.vmlet.vfio.SysfsWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.nio.file.Files;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.TemplateInfo;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * The one entry point to this host's VMs: the API and the CLI call only this. Every state change
 * goes through {@link VmTransitions} and is persisted by {@link VmStore} after its side effect
 * succeeded. Each VM has one owner that serialises its changes, and readers ({@link #get}, {@link
 * #list}, {@link #agent}, {@link #exec}, {@link #openConsole}) never wait for it or for QEMU (see
 * {@link VmRuntime}). The work is done by one class per concern: {@link VmDefinitions} (create,
 * delete), {@link VmStarter}, {@link VmTeardown} (stop, crash, release), {@link VmReadoption},
 * {@link VmControls} and {@link VmReads}. Changes block (they start and stop QEMU): never call
 * them from an event-loop thread.
 *
 * <p>Why one class of about 300 lines: it is the facade the API sees, so each public operation is
 * here with its contract in Javadoc and a body of one to three lines handing it on; splitting it
 * would give callers two entry points for no gain in what either does.
 */
public final class VmManager implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(VmManager.class.getName());
  static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);

  private final VmletPaths paths;
  private final CgroupFit fit = new CgroupFit(Path.of("/"));
  private final VmStore store;
  private final LaunchPlanner planner;
  private final Gpus gpus;
  private final AccelProbe probe;
  private final String qemuBinary;
  private final VmTable vms = new VmTable();
  private final VmEvents events;
  private final VmLinks links;
  private final VmControls controls;
  private final VmTeardown teardown;
  private final VmStarter starter;
  private final VmReadoption readoption;
  private final VmReads reads;
  private final VmDefinitions definitions;
  private final StartCheck startCheck;
  private final VmTemplates templates;
  private final Clock clock;

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
    this(paths, images, probe, qemuBinary, clock, gpus, startCheck, QemuLauncher.SESSION);
  }

  /** @param launcher starts QEMU; tests give a stand-in */
  VmManager(VmletPaths paths, ImageResolver images, AccelProbe probe, String qemuBinary, Clock clock, Gpus gpus,
      StartCheck startCheck, QemuLauncher launcher) {
    this.startCheck = startCheck;
    this.gpus = gpus;
    this.probe = probe;
    this.qemuBinary = qemuBinary;
    this.paths = paths;
    this.store = new VmStore(paths.stateDir());
    QemuImg qemuImg = new QemuImg(QemuImg.beside(qemuBinary));
    this.planner = new LaunchPlanner(images, probe, new Disks(qemuImg), Path.of("/"), gpus, qemuBinary);
    this.clock = clock;
    this.events = new VmEvents(clock);
    this.teardown = new VmTeardown(store, events, gpus);
    this.links = new VmLinks(clock, events, teardown::onQemuGone);
    this.controls = new VmControls(store, events, qemuImg, new VmSnapshots(qemuImg));
    this.starter = new VmStarter(store, events, links, teardown, planner, gpus, launcher, clock);
    this.readoption = new VmReadoption(store, events, links, teardown, gpus);
    this.reads = new VmReads(vms);
    this.definitions = new VmDefinitions(vms, store, events, planner, teardown);
    this.templates = new VmTemplates(paths.stateDir().resolve("templates"), vms, qemuImg, qemuBinary, clock,
        new TemplateRamFile((c, id, f) -> planner.plan(c, id, f, true).argv(), launcher, paths.runDir()));
  }

  /** How long {@link #recover} waits for a QEMU that runs but does not answer before ending it (tests shorten it). */
  void readoptionPatience(Duration d) {
    readoption.patience(d);
  }

  /**
   * Loads persisted VMs and re-adopts the QEMU processes that still run (see {@link VmReadoption}
   * for the few that are ended instead, and why). Then
   * starts, one after the other on a thread of its own (the daemon serves meanwhile), the VMs whose
   * {@link dev.vmlet.spec.RestartPolicy} asks for it; a start that fails is logged and stays the
   * VM's error.
   */
  public void recover() {
    readoption.recover(vms, this::filesOf);
    List<VmRuntime> restarts = vms.all().stream()
        .filter(vm -> vm.record().config().restart().restartsFrom(vm.record().state().name())).toList();
    if (restarts.isEmpty()) {
      return;
    }
    Thread t = new Thread(() -> {
      for (VmRuntime vm : restarts) {
        LOG.info("VM " + vm.name() + " (" + vm.record().instanceId() + "): " + vm.record().state()
            + ", restart " + vm.record().config().restart().flag() + ": starting it");
        try {
          startFitting(vm, startCheck);
        } catch (RuntimeException e) {
          LOG.warning("VM " + vm.name() + ": restart failed: " + e.getMessage());
        }
      }
    }, "vm-restart");
    t.setDaemon(true);
    t.start();
  }
  public Gpus gpus() {
    return gpus;
  }

  public String qemuBinary() {
    return qemuBinary;
  }

  /** What VMs with accel auto get (probed once per daemon). */
  public Accel autoAccel() {
    return probe.resolve("auto");
  }

  /** Whether a VM of this name runs (holds its QEMU process). */
  public boolean isRunning(String name) {
    return reads.isRunning(name);
  }

  public VmRecord create(VmConfig config, boolean start) {
    return create(config, start, null);
  }

  /** @param owner who creates it, kept for the checks before each start; null: none kept */
  public VmRecord create(VmConfig config, boolean start, VmOwner owner) {
    // A VM created to start must fit beside the running ones; one created stopped, alone.
    fit.check(config, start ? running(null) : List.of());
    VmRuntime vm = definitions.create(config, owner, filesOf(config.name()));
    // The host paths of this create were decided for its caller a moment ago: not again.
    return start ? startFitting(vm, StartCheck.NONE) : vm.record();
  }

  /** Starts a VM if it fits in the daemon's cgroup beside the VMs that run. */
  private VmRecord startFitting(VmRuntime vm, StartCheck check) {
    VmConfig config = vm.record().config();
    VmConfig.imageMemoryShortfall(config.image(), config.memoryMib()).ifPresent(why -> {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "VM '" + config.name() + "' cannot start: " + why
          + "; it was made before that floor; delete it and launch it again with --memory " + VmConfig.imageMemoryFloor(config.image()));
    });
    fit.check(config, running(vm));
    return starter.start(vm, check);
  }

  /** The VMs whose QEMU runs, but {@code except}. */
  private List<VmRuntime> running(VmRuntime except) {
    return vms.all().stream().filter(v -> v != except && v.now().process() != null).toList();
  }

  /**
   * Saves a running VM whose agent is ready as template {@code template}: its memory and device
   * state and its disks, frozen. The VM is paused while it is saved and runs on afterwards.
   */
  public TemplateInfo createTemplate(String vmName, String template, AgentPrep prep) {
    return templates.create(vms.require(vmName), template, prep);
  }

  public List<TemplateInfo> listTemplates() {
    return templates.list();
  }

  public TemplateInfo getTemplate(String template) {
    return templates.get(template);
  }

  /** Deletes a template; refused, naming them, while VMs cloned from it exist. */
  public void deleteTemplate(String template) {
    templates.delete(template);
  }

  /**
   * Creates a VM from a template: its disks are overlays on the template's, and its first start
   * resumes the template's saved state (with its own identity) instead of booting. A clone whose
   * first start fails is deleted: nothing is left behind.
   *
   * @param vcpus 0 for the template's; anything else must equal it (likewise memoryMib)
   */
  public VmRecord createClone(String template, String name, int vcpus, long memoryMib, Map<String, String> labels,
      List<PortForward> forwards, boolean start, VmOwner owner) {
    long calledAt = clock.millis();
    VmTemplates.Stored t = templates.require(template);
    VmConfig config = templates.cloneConfig(t, name, vcpus, memoryMib, labels, forwards);
    VmRuntime vm = definitions.create(config, owner, filesOf(name), templates.dirOf(template));
    try {
      Files.writeString(vm.files.templateName(), template);
      Files.writeString(vm.files.resumeFrom(), templates.dirOf(template).toString());
      if (!start) {
        return vm.record();
      }
      VmRecord r = starter.start(vm, StartCheck.NONE);
      // The daemon's part before QEMU (checks, files, the plan); VmStarter and VmLinks log the rest.
      LOG.info("VM " + name + ": clone of template " + template + ", QEMU's launch began " + (r.startedAtMs() - calledAt)
          + " ms after the create reached the daemon, which returned " + (clock.millis() - calledAt) + " ms after it");
      return r;
    } catch (IOException | RuntimeException e) {
      definitions.delete(vm, true);
      if (e instanceof VmException ve) {
        throw ve;
      }
      throw new VmException(VmException.Kind.INTERNAL, "cannot clone template '" + template + "': " + e.getMessage(), e);
    }
  }

  /** Starts a VM; its host paths are decided again for the caller who created it ({@link StartCheck}). */
  public VmRecord start(String name) {
    return startFitting(vms.require(name), startCheck);
  }

  /**
   * Stops a VM: the agent's poweroff and ACPI powerdown, then QMP quit, then SIGTERM, then SIGKILL,
   * each bounded. With force the graceful step is skipped.
   */
  public VmRecord stop(String name, boolean force, Duration graceful) {
    return teardown.stop(vms.require(name), force, graceful);
  }

  /** Removes a VM and its files; with force a live one is stopped first (forced), otherwise it must not run. */
  public void delete(String name, boolean force) {
    definitions.delete(vms.require(name), force);
  }

  /** The VM as it is now; never waits for a change in progress (see {@link VmRuntime}). */
  public VmView get(String name) {
    return reads.get(name);
  }

  /** Every VM as it is now, by name; never waits for a change in progress. */
  public List<VmView> list() {
    return reads.list();
  }

  /**
   * Grows a disk: live through QMP block_resize when QEMU runs, with qemu-img otherwise. The new
   * size is kept in the VM's config.
   */
  public VmRecord resizeDisk(String name, String disk, long sizeMib) {
    return controls.resizeDisk(vms.require(name), disk, sizeMib);
  }

  public List<SnapshotInfo> listSnapshots(String name) {
    return controls.listSnapshots(vms.require(name));
  }

  /** Takes a snapshot: with memory when the VM runs or is paused, disk-only when it is stopped. */
  public SnapshotInfo createSnapshot(String name, String snapshot) {
    return controls.createSnapshot(vms.require(name), snapshot);
  }

  public void restoreSnapshot(String name, String snapshot) {
    controls.restoreSnapshot(vms.require(name), snapshot);
  }

  public void deleteSnapshot(String name, String snapshot) {
    controls.deleteSnapshot(vms.require(name), snapshot);
  }

  /** Freezes the vCPUs of a running VM. */
  public VmRecord pause(String name) {
    return controls.qmpStep(vms.require(name), VmTransitions.Operation.PAUSE, VmState.PAUSED, "stop");
  }

  /** Lets a paused VM run again. */
  public VmRecord resume(String name) {
    return controls.qmpStep(vms.require(name), VmTransitions.Operation.RESUME, VmState.RUNNING, "cont");
  }

  /** Hardware reset; the VM stays RUNNING and its agent phones home again from the new boot. */
  public VmRecord reboot(String name) {
    return controls.reboot(vms.require(name));
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

  /**
   * Blocks until the VM's agent is ready, the VM stops, or the timeout passes; it waits for the
   * agent only, never for the VM's owner.
   */
  public VmView awaitAgentReady(String name, Duration timeout) throws InterruptedException {
    return reads.awaitAgentReady(name, timeout);
  }

  /**
   * Attaches to a VM's serial console: guest output goes to {@code out}, {@code ended} runs when
   * the VM goes away. Returns the link to type into and the handle that detaches.
   */
  public ConsoleSession openConsole(String name, Consumer<byte[]> out, Runnable ended) {
    return reads.openConsole(name, out, ended);
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
   * The agent link of a running VM, for file transfers. Never waits for another VM operation (a
   * stop waiting out its guest, say).
   *
   * @throws VmException FAILED_PRECONDITION in the wrong state, UNAVAILABLE when the agent is not connected
   */
  public AgentLink agent(String name) {
    return reads.agent(name);
  }

  /**
   * The QMP link of a VM whose QEMU runs, else null: for readers that poll QEMU on their own thread
   * (metrics). Never waits, like every reader here.
   */
  public QmpClient qmp(String name) {
    VmRuntime vm = vms.find(name);
    return vm == null ? null : vm.now().qmp();
  }

  /** How many writes of VMs' state files failed since the daemon started. */
  public long stateWriteFailures() {
    return store.writeFailures();
  }

  /**
   * Calls the watcher with every lifecycle event from now on, on the thread that caused it; it must
   * not block. Close the returned handle to stop.
   */
  public AutoCloseable watch(Consumer<LifecycleEvent> watcher) {
    return events.watch(watcher);
  }

  /** Closes the links to every VM; VMs keep running and are re-adopted by the next daemon. */
  @Override
  public void close() {
    teardown.daemonClosing();
    for (VmRuntime vm : vms.all()) {
      synchronized (vm) {
        VmLinks.closeAll(vm);
      }
    }
  }

  private VmFiles filesOf(String name) {
    return new VmFiles(paths.vmRunDir(name), paths.vmStateDir(name));
  }
}
