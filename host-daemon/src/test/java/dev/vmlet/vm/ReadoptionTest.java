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
    VmRecord r = VmRecord.created(VmConfig.builder(name).build(), "iid-" + name, null).withState(VmState.RUNNING)
        .withStarted(pid, "tcg", "test", startedAtMs, "", List.of());
    new VmStore(paths.stateDir()).save(r);
    VmFiles files = new VmFiles(paths.vmRunDir(name), paths.vmStateDir(name));
    Files.createDirectories(files.runDir());
    Files.writeString(files.pidFile(), pid + "\n");
    return files;
  }

  private void listen(Path socket) throws Exception {
    ports.add(FakeQemu.listen(socket));
  }

  private Process standInQemu() throws Exception {
    return new ProcessBuilder(FakeQemu.standIn(dir).toString(), "600").start();
  }

  @Test
  void aRunningVm_isReadopted_thenItsQemuDying_isCrashed_withItsRunDirectoryCleaned() throws Exception {
    qemu = standInQemu();
    VmFiles files = persisted("adopt", qemu.pid(), System.currentTimeMillis());
    qmp = FakeQmpServer.start(files.qmpSocket());
    listen(files.consoleSocket());
    listen(files.agentSocket());

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
}
