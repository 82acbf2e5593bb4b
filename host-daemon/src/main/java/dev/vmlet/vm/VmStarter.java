package dev.vmlet.vm;

import dev.vmlet.qemu.Accel;
import dev.vmlet.qemu.CpuPinning;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.qemu.QemuLauncher;
import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.qemu.QemuSandbox;
import dev.vmlet.qemu.TemplateMemory;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import dev.vmlet.vfio.Gpus;
import dev.vmlet.share.Virtiofsd;
import dev.vmlet.tpm.Swtpm;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import java.util.List;
import java.util.ArrayList;
import dev.vmlet.qemu.MigrationStream;
import dev.vmlet.qmp.QmpClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.logging.Logger;

/**
 * Starts a VM: plans its command line, takes its GPUs, launches QEMU through the {@link
 * QemuLauncher}, connects its links and only then says RUNNING. A start that fails at any step
 * leaves nothing behind: QEMU is ended, the run directory and GPUs released, and the VM STOPPED with
 * the reason.
 */
final class VmStarter {
  private static final Logger LOG = Logger.getLogger(VmStarter.class.getName());
  static final Duration LAUNCH_BOUND = Duration.ofSeconds(30);

  private final VmStore store;
  private final VmEvents events;
  private final VmLinks links;
  private final VmTeardown teardown;
  private final LaunchPlanner planner;
  private final Gpus gpus;
  private final QemuLauncher launcher;
  private final Clock clock;

  VmStarter(VmStore store, VmEvents events, VmLinks links, VmTeardown teardown, LaunchPlanner planner, Gpus gpus,
      QemuLauncher launcher, Clock clock) {
    this.store = store;
    this.events = events;
    this.links = links;
    this.teardown = teardown;
    this.planner = planner;
    this.gpus = gpus;
    this.launcher = launcher;
    this.clock = clock;
  }

  /** @param check asked after the state allowed the start and before anything changes */
  VmRecord start(VmRuntime vm, VmManager.StartCheck check) {
    String name = vm.name();
    synchronized (vm) {
      // Outside the try: a refused start changes nothing.
      VmTransitions.require(name, vm.record().state(), VmTransitions.Operation.START);
      check.check(vm.record(), vm.files.baseDir());
      store.save(vm.record()); // a state directory that cannot take the new state refuses the start here
      events.transition(vm, VmState.STARTING, "start");
      try {
        // On disk before QEMU runs: a daemon that dies from here on finds this start and its QEMU (VmReadoption).
        store.save(vm.record());
        Accel accel = launch(vm);
        events.transition(vm, VmState.RUNNING, "start");
        store.save(vm.record());
        LOG.info("VM " + name + " (" + vm.record().instanceId() + "): running, QEMU pid " + vm.now().process().pid()
            + ", " + accel.name() + " (" + accel.reason() + ")");
        return vm.record();
      } catch (IOException | RuntimeException e) {
        String msg = e.getMessage();
        teardown.release(vm); // before the state says so: a reader that sees STOPPED finds nothing of the VM's left
        teardown.settle(vm, VmState.STOPPED, "mark stopped", r -> r.withError(msg).withPid(0));
        LOG.warning("VM " + name + ": start failed: " + msg);
        if (e instanceof VmException ve) {
          throw ve;
        }
        throw new VmException(VmException.Kind.INTERNAL, "cannot start VM '" + name + "': " + msg, e);
      }
    }
  }

  /** Everything between STARTING and RUNNING; QEMU runs and is connected when it returns. */
  private Accel launch(VmRuntime vm) throws IOException {
    VmConfig config = vm.record().config();
    Files.createDirectories(vm.files.runDir());
    Files.createDirectories(vm.files.stateDir());
    Files.deleteIfExists(vm.files.consoleLog());
    LaunchPlanner.Plan plan = planner.plan(config, vm.record().instanceId(), vm.files, true);
    Path template = resumeFrom(vm);
    VmTemplates.SharedMemory memory = template == null ? null : VmTemplates.sharedMemory(template);
    List<String> argv = new ArrayList<>(plan.argv());
    if (memory != null) {
      // The template's RAM, mapped copy-on-write: pages stay shared with the other clones until written.
      argv.addAll(TemplateMemory.backend(memory.backendId(), config.memoryMib(), template.resolve(TemplateMemory.FILE), false));
    }
    if (template != null) {
      argv.addAll(List.of("-incoming", "defer")); // a clone's first start: QEMU waits for the template's state
    }
    takeGpus(vm.name(), config);
    startShares(vm, config); // a failed start ends them and the TPM: VmTeardown.release
    if (config.platform().tpm()) {
      startTpm(vm);
    }
    long startedAt = clock.millis();
    ProcessHandle qemu = launcher.launch(argv, vm.files, LAUNCH_BOUND);
    // A clone resumes a guest whose cloud-init finished in the template: nothing of a boot to watch.
    BootTimeline timeline = config.attachesSeed() && template == null ? new BootTimeline(clock) : null;
    vm.publish(s -> s.withQemu(qemu, timeline).withRecord(s.record().withStarted(qemu.pid(), plan.accel().name(),
        plan.accel().reason(), startedAt, QemuCommandBuilder.toShellLine(argv), plan.forwards())));
    try {
      long qemuUpAt = clock.millis();
      long[] resumed = null;
      store.save(vm.record()); // its pid, for a daemon that dies before the start ends
      if (template != null) {
        resumed = resume(vm, template, memory != null);
      }
      links.connect(vm);
      if (template != null) {
        // One line with where a clone's start went; the agent's part follows in VmLinks' "clone agent ready".
        LOG.info("VM " + vm.name() + ": resumed from template " + template.getFileName() + ", ms after the start: QEMU up "
            + (qemuUpAt - startedAt) + ", state loaded " + (resumed[0] - startedAt) + ", running " + (resumed[1] - startedAt)
            + ", links connected " + (clock.millis() - startedAt));
      }
      CpuPinning.apply(vm.now().qmp(), config.tuning().cpuPinning(), VmManager.QMP_TIMEOUT);
      if (timeline != null) {
        watchSsh(vm.name(), timeline, plan, qemu);
      }
    } catch (IOException | RuntimeException e) {
      // Never leave a QEMU behind for a start that failed.
      qemu.destroyForcibly();
      QemuProcess.awaitExit(qemu, Duration.ofSeconds(5));
      VmLinks.drop(vm, events, "the start failed");
      throw e;
    }
    return plan.accel();
  }

  /**
   * Loads the template's state into the clone's waiting QEMU and runs it, over a QMP connection of
   * its own: the links connect after, to a guest that runs, so the agent's link sees a host that
   * arrives (and says Hello as the clone) rather than frames sent while the guest did not run.
   *
   * @return when (clock ms) the state was loaded and when the guest ran
   */
  private long[] resume(VmRuntime vm, Path template, boolean sharedMemory) throws IOException {
    long loadedAt;
    try (QmpClient qmp = QmpClient.connect(vm.files.qmpSocket(), Duration.ofSeconds(10), e -> { }, () -> { })) {
      if (sharedMemory) {
        TemplateMemory.ignoreShared(qmp); // the stream holds the device state; the RAM is the mapped file
      }
      MigrationStream.load(qmp, vm.files.migrationSocket(), template.resolve("state.bin"), LAUNCH_BOUND);
      loadedAt = clock.millis();
      String status = qmp.execute("query-status", null, VmManager.QMP_TIMEOUT).getAsJsonObject().get("status").getAsString();
      if (!status.equals("running")) {
        qmp.execute("cont", null, VmManager.QMP_TIMEOUT);
      }
    }
    Files.delete(vm.files.resumeFrom()); // resumed: a later start boots
    return new long[] {loadedAt, clock.millis()};
  }

  /** The template directory a clone resumes from at its first start; null for a boot. */
  private static Path resumeFrom(VmRuntime vm) throws IOException {
    if (!Files.exists(vm.files.resumeFrom())) {
      return null;
    }
    Path dir = Path.of(Files.readString(vm.files.resumeFrom()).strip());
    if (!Files.isRegularFile(dir.resolve("state.bin"))) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "VM '" + vm.name() + "' was cloned from the template in " + dir
          + ", whose saved state is gone; delete the VM and clone it again from an existing template");
    }
    return dir;
  }

  /** One virtiofsd per share, running and listening before QEMU connects to it. */
  private static void startShares(VmRuntime vm, VmConfig config) throws IOException {
    for (int i = 0; i < config.shares().size(); i++) {
      if (config.shares().get(i).ninep()) {
        continue; // QEMU serves it
      }
      Path socket = vm.files.shareSocket(i);
      List<String> argv = Virtiofsd.command(Virtiofsd.BINARY, config.shares().get(i), socket);
      Virtiofsd.start(argv, socket, Virtiofsd.pidFile(vm.files.runDir(), i), vm.files.shareLog(i));
      var user = QemuSandbox.user();
      if (user.isPresent()) {
        user.get().handOver(socket); // virtiofsd makes it root's only; QEMU connects as its own user
      }
      LOG.info("VM " + vm.name() + ": virtiofsd for " + config.shares().get(i).hostPath() + " on " + socket);
    }
  }

  /**
   * The VM's swtpm, listening before QEMU connects to it; as QEMU's user when the daemon is root,
   * which then owns the TPM's state directory.
   */
  private static void startTpm(VmRuntime vm) throws IOException {
    Path state = vm.files.tpmState();
    Files.createDirectories(state, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    var user = QemuSandbox.user();
    if (user.isPresent()) {
      try (Stream<Path> files = Files.walk(state)) {
        for (Path f : files.toList()) {
          user.get().handOver(f); // also state a start as another user left
        }
      }
    }
    List<String> argv = Swtpm.command(user.map(u -> u.prefix(0)).orElse(List.of()), Swtpm.BINARY, state, vm.files.tpmSocket());
    ProcessHandle h = Swtpm.start(argv, vm.files.tpmSocket(), vm.files.runDir(), vm.files.tpmLog());
    LOG.info("VM " + vm.name() + ": swtpm (pid " + h.pid() + ") on " + vm.files.tpmSocket() + ", state in " + state);
  }

  private void takeGpus(String name, VmConfig config) {
    if (config.gpus().isEmpty()) {
      return;
    }
    try {
      var taken = gpus.take(name, LaunchPlanner.addresses(config));
      var user = QemuSandbox.user();
      if (user.isPresent()) {
        for (Path group : gpus.groupDevices(taken)) {
          user.get().handOver(group); // QEMU opens it as its user; the kernel removes it when the group leaves vfio-pci
        }
      }
    } catch (IOException e) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "gpus: " + e.getMessage(), e);
    }
  }

  private static void watchSsh(String name, BootTimeline timeline, LaunchPlanner.Plan plan, ProcessHandle qemu) {
    for (PortForward f : plan.forwards()) {
      if (f.guestPort() == LaunchPlanner.SSH_PORT && f.protocol().equals("tcp")) {
        timeline.watchSsh(name, f.hostAddress().equals("0.0.0.0") ? "127.0.0.1" : f.hostAddress(), f.hostPort(), qemu::isAlive);
        return;
      }
    }
  }
}
