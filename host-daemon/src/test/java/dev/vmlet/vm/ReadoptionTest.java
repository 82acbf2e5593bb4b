package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.qemu.FakeQemu;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.qmp.FakeQmpServer;
import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.VmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.qemu.QemuProcess;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Re-adoption after a daemon restart and crash detection, without QEMU: a copy of {@code sleep}
 * named like QEMU stands in for it (its pidfile, its start time and its name are what the daemon
 * checks), {@link FakeQmpServer} is its QMP socket, and plain unix sockets are its console and
 * agent ports.
 */
class ReadoptionTest {
  @TempDir Path dir;
  private VmletPaths paths;
  private VmManager manager;
  private Process qemu;
  private FakeQmpServer qmp;
  private final List<AutoCloseable> ports = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() {
    paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
    manager = new VmManager(paths, name -> new BootImage(dir.resolve("vmlinuz"), dir.resolve("initrd.img")),
        new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "/nonexistent/qemu", Clock.systemUTC());
  }

  @AfterEach
  void tearDown() throws Exception {
    manager.close();
    if (qmp != null) {
      qmp.close();
    }
    for (AutoCloseable c : ports) {
      c.close();
    }
    if (qemu != null) {
      qemu.destroyForcibly();
    }
  }

  /** A VM the last daemon left RUNNING with QEMU at {@code pid}, as its state and run directories hold it. */
  private VmFiles persisted(String name, long pid, long startedAtMs) throws Exception {
    return persisted(name, VmState.RUNNING, pid, startedAtMs);
  }

  private VmFiles persisted(String name, VmState state, long pid, long startedAtMs) throws Exception {
    VmRecord r = VmRecord.created(VmConfig.builder(name).build(), "iid-" + name, null).withState(state)
        .withStarted(pid, "tcg", "test", startedAtMs, "", List.of());
    new VmStore(paths.stateDir()).save(r);
    VmFiles files = new VmFiles(paths.vmRunDir(name), paths.vmStateDir(name));
    Files.createDirectories(files.runDir());
    Files.writeString(files.pidFile(), pid + "\n");
    return files;
  }

  /** The console and agent sockets of a QEMU: they accept. */
  private void listenOnPorts(VmFiles files) throws Exception {
    ports.add(FakeQemu.listen(files.consoleSocket()));
    ports.add(FakeQemu.listen(files.agentSocket()));
  }

  private Process standInQemu() throws Exception {
    return new ProcessBuilder(FakeQemu.standIn(dir).toString(), "600").start();
  }

  @Test
  void aRunningVm_isReadopted_thenItsQemuDying_isCrashed_withItsRunDirectoryCleaned() throws Exception {
    qemu = standInQemu();
    VmFiles files = persisted("adopt", qemu.pid(), System.currentTimeMillis());
    qmp = FakeQmpServer.start(files.qmpSocket());
    listenOnPorts(files);

    manager.recover();
    VmView adopted = manager.get("adopt");
    assertThat(adopted.record().state()).isEqualTo(VmState.RUNNING);
    assertThat(adopted.record().pid()).as("the same QEMU, not a new one").isEqualTo(qemu.pid());
    assertThat(qmp.connections()).as("QMP reconnected").isEqualTo(1);

    CountDownLatch crashed = new CountDownLatch(1);
    try (AutoCloseable w = manager.watch(e -> {
      if (e.kind() == LifecycleEvent.Kind.CRASHED) {
        crashed.countDown();
      }
    })) {
      qemu.destroyForcibly().waitFor();
      qmp.closeConnection(); // QEMU's QMP socket closes with it
      assertThat(crashed.await(30, TimeUnit.SECONDS)).as("CRASHED reported").isTrue();
    }
    VmView v = manager.get("adopt");
    assertThat(v.record().state()).isEqualTo(VmState.CRASHED);
    assertThat(v.record().lastError()).startsWith("QEMU exited unexpectedly");
    assertThat(v.record().pid()).isZero();
    assertThat(files.runDir()).as("seen CRASHED: its run directory is gone already").doesNotExist();
    assertThat(new VmStore(paths.stateDir()).loadAll()).singleElement()
        .satisfies(r -> assertThat(r.state()).as("seen CRASHED: saved so already").isEqualTo(VmState.CRASHED));
  }

  @Test
  void aVmWhoseQemuExitedWhileNoDaemonRan_isCrashed_andNothingIsStarted() throws Exception {
    Process gone = standInQemu();
    long pid = gone.pid();
    long startedAt = System.currentTimeMillis();
    gone.destroyForcibly().waitFor();
    persisted("lost", pid, startedAt);

    manager.recover();
    VmView v = manager.get("lost");
    assertThat(v.record().state()).isEqualTo(VmState.CRASHED);
    assertThat(v.record().lastError()).isEqualTo("QEMU (pid " + pid + ") exited while the daemon was down");
    assertThat(new VmStore(paths.stateDir()).loadAll()).singleElement()
        .satisfies(r -> assertThat(r.state()).isEqualTo(VmState.CRASHED));
  }
  /** Records every CRASHED event of the manager's VMs. */
  private List<LifecycleEvent> crashes() {
    List<LifecycleEvent> seen = new CopyOnWriteArrayList<>();
    manager.watch(e -> {
      if (e.kind() == LifecycleEvent.Kind.CRASHED) {
        seen.add(e);
      }
    });
    return seen;
  }

  @Test
  void aRunningVmWhosePidfileIsGone_isReadoptedByItsRecordedPid() throws Exception {
    qemu = standInQemu();
    VmFiles files = persisted("nopidfile", qemu.pid(), System.currentTimeMillis());
    Files.delete(files.pidFile());
    qmp = FakeQmpServer.start(files.qmpSocket());
    listenOnPorts(files);

    manager.recover();
    VmView v = manager.get("nopidfile");
    assertThat(v.record().state()).isEqualTo(VmState.RUNNING);
    assertThat(v.record().pid()).isEqualTo(qemu.pid());
    assertThat(v.record().lastError()).isEmpty();
  }

  @Test
  void aQemuSlowToAnswer_staysRunning_neverCrashed_andIsAdoptedOnceItAnswers() throws Exception {
    qemu = standInQemu();
    VmFiles files = persisted("slow", qemu.pid(), System.currentTimeMillis());
    qmp = FakeQmpServer.start(files.qmpSocket()).mute(true);
    listenOnPorts(files);
    List<LifecycleEvent> crashes = crashes();

    manager.recover(); // the first attempt waits out QMP's connect bound (10 s)
    VmView waiting = manager.get("slow");
    assertThat(waiting.record().state()).isEqualTo(VmState.RUNNING);
    assertThat(waiting.record().pid()).isEqualTo(qemu.pid());
    assertThat(waiting.record().lastError()).startsWith("re-adopting: QEMU pid " + qemu.pid() + " runs but did not answer (attempt 1)");

    qmp.mute(false);
    Poll.until("the re-adoption to connect", Duration.ofSeconds(60), () -> manager.get("slow").record().lastError().isEmpty());
    VmView adopted = manager.get("slow");
    assertThat(adopted.record().state()).isEqualTo(VmState.RUNNING);
    assertThat(adopted.record().pid()).isEqualTo(qemu.pid());
    assertThat(qemu.isAlive()).isTrue();
    assertThat(crashes).isEmpty();
    assertThat(new VmStore(paths.stateDir()).loadAll()).singleElement()
        .satisfies(r -> assertThat(r.state()).isEqualTo(VmState.RUNNING));
  }

  @Test
  void aStopDuringTheRetries_isNotHeldUpByTheWaitForASilentQemu() throws Exception {
    qemu = standInQemu();
    VmFiles files = persisted("frozen", qemu.pid(), System.currentTimeMillis());
    qmp = FakeQmpServer.start(files.qmpSocket()).mute(true);
    listenOnPorts(files);

    manager.recover(); // the first attempt waits out QMP's connect bound
    assertThat(qmp.connections()).isEqualTo(1);
    // The retry thread's next wait for a greeting has begun: it lasts the connect bound (10 s) for this mute QEMU.
    Poll.until("the second attempt to connect", Duration.ofSeconds(60), () -> qmp.connections() == 2);
    long begun = System.nanoTime();
    VmRecord stopped = manager.stop("frozen", true, Duration.ZERO);
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - begun);

    assertThat(stopped.state()).isEqualTo(VmState.STOPPED);
    // Waiting for the greeting under the VM's lock held a stop for the whole connect bound (10 s).
    assertThat(tookMs).as("the stop waited for the re-adoption's wait for QMP").isLessThan(8_000);
    assertThat(QemuProcess.awaitExit(qemu.toHandle(), Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void aQemuThatNeverAnswers_isEndedOnceThePatienceRunsOut_andCrashedSayingWhy() throws Exception {
    qemu = standInQemu();
    VmFiles files = persisted("mute", qemu.pid(), System.currentTimeMillis());
    qmp = FakeQmpServer.start(files.qmpSocket()).mute(true);
    listenOnPorts(files);
    manager.readoptionPatience(Duration.ofSeconds(1));

    manager.recover();
    assertThat(manager.get("mute").record().state()).isEqualTo(VmState.RUNNING);
    Poll.until("the unanswering QEMU to be ended", Duration.ofSeconds(90),
        () -> manager.get("mute").record().state() == VmState.CRASHED);
    assertThat(QemuProcess.awaitExit(qemu.toHandle(), Duration.ofSeconds(10))).as("QEMU ended, not left behind").isTrue();
    VmView v = manager.get("mute");
    assertThat(v.record().lastError()).startsWith("QEMU pid " + qemu.pid() + " ran but did not answer for 1 s after the daemon restarted,"
        + " and was ended (last: re-adopting: ");
    assertThat(v.record().pid()).isZero();
    assertThat(files.runDir()).doesNotExist();
  }

  @Test
  void aVmLeftStarting_hasItsQemuEnded_andIsCrashedSayingWhy() throws Exception {
    qemu = standInQemu();
    VmFiles files = persisted("halfstarted", VmState.STARTING, qemu.pid(), System.currentTimeMillis());

    manager.recover();
    assertThat(QemuProcess.awaitExit(qemu.toHandle(), Duration.ofSeconds(10))).as("QEMU ended, not left behind").isTrue();
    VmView v = manager.get("halfstarted");
    assertThat(v.record().state()).isEqualTo(VmState.CRASHED);
    assertThat(v.record().lastError()).isEqualTo("the daemon stopped while it started this VM; its QEMU (pid " + qemu.pid()
        + ") was never connected and was ended: start the VM again");
    assertThat(files.runDir()).doesNotExist();
    assertThat(new VmStore(paths.stateDir()).loadAll()).singleElement()
        .satisfies(r -> assertThat(r.state()).isEqualTo(VmState.CRASHED));
  }

  @Test
  void aVmLeftStartingBeforeItsQemuRan_isCrashedSayingSo() throws Exception {
    persisted("neverlaunched", VmState.STARTING, 0, 0);
    Files.delete(new VmFiles(paths.vmRunDir("neverlaunched"), paths.vmStateDir("neverlaunched")).pidFile());

    manager.recover();
    VmView v = manager.get("neverlaunched");
    assertThat(v.record().state()).isEqualTo(VmState.CRASHED);
    assertThat(v.record().lastError()).isEqualTo("the daemon stopped before this VM's QEMU was started");
  }
}
