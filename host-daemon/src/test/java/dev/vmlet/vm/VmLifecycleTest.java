package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.qemu.FakeQemu;
import dev.vmlet.qemu.QemuLauncher;
import dev.vmlet.spec.ImageResolver;
import dev.vmlet.spec.RestartPolicy;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Start, crash and stop through {@link VmManager}, without QEMU: {@link FakeQemu} is launched in
 * its place (a real process, a QMP server speaking QEMU's protocol, console and agent sockets), so
 * everything the manager does around QEMU runs as it does for a real one.
 */
class VmLifecycleTest {
  @TempDir Path dir;
  private VmletPaths paths;
  private ImageResolver images;
  private FakeQemu qemu;
  private VmManager manager;
  private final List<LifecycleEvent> events = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    paths = TestHost.paths(dir);
    images = TestHost.images(dir);
    qemu = new FakeQemu(dir);
    manager = manager(qemu);
  }

  /** A manager on this test's host whose QEMU is {@code launcher}, its events recorded. */
  private VmManager manager(QemuLauncher launcher) {
    VmManager m = new VmManager(paths, images, TestHost.noKvm(dir), "/nonexistent/qemu", Clock.systemUTC(),
        VmManager.defaultGpus(paths, dir.resolve("sys"), null), VmManager.StartCheck.NONE, launcher);
    m.watch(events::add);
    return m;
  }

  @AfterEach
  void tearDown() throws Exception {
    manager.close();
    qemu.close();
  }

  private VmRecord createAndStart(String name) {
    return manager.create(new VmConfig(name, 1, 256, "micro", "tcg"), true);
  }

  /** Kills the fake QEMU and returns once the manager has marked its VM CRASHED. */
  private void crashAndWait() throws Exception {
    CompletableFuture<Void> crashed = new CompletableFuture<>();
    manager.watch(e -> {
      if (e.kind() == LifecycleEvent.Kind.CRASHED) {
        crashed.complete(null);
      }
    });
    qemu.crash();
    crashed.get(30, TimeUnit.SECONDS);
  }

  private List<String> qmpSent() {
    return qemu.qmp().commandNames().stream().filter(n -> !n.equals("qmp_capabilities")).toList();
  }

  private List<VmState> states(String name) {
    return events.stream().filter(e -> e.name().equals(name) && e.kind() != LifecycleEvent.Kind.DELETED)
        .map(LifecycleEvent::state).toList();
  }

  /** The VM as its state directory holds it. */
  private VmRecord saved(String name) {
    return new VmStore(paths.stateDir()).loadAll().stream().filter(r -> r.config().name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void start_whenQemuComesUp_reachesRunning_connectedToItsQmp() {
    VmRecord r = createAndStart("up");
    assertThat(r.state()).isEqualTo(VmState.RUNNING);
    assertThat(r.pid()).as("the launched process").isEqualTo(qemu.process().pid());
    assertThat(qemu.argv()).as("the planned command line").contains("-kernel", dir.resolve("img/vmlinuz").toString());
    assertThat(qemu.qmp().commandNames()).as("QMP negotiated").startsWith("qmp_capabilities");
    assertThat(manager.isRunning("up")).isTrue();
    assertThat(saved("up").state()).isEqualTo(VmState.RUNNING);
    assertThat(states("up")).containsExactly(VmState.STARTING, VmState.RUNNING);
  }

  @Test
  void start_whenQemuExitsAtOnce_leavesNothingBehind() {
    manager.create(new VmConfig("dies", 1, 256, "micro", "tcg"), false);
    qemu.exitAtOnce("qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory");
    assertThatThrownBy(() -> manager.start("dies"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.INTERNAL))
        .hasMessageContaining("cannot start VM 'dies'").hasMessageContaining("Cannot allocate memory");
    VmView v = manager.get("dies");
    assertThat(v.record().state()).isEqualTo(VmState.STOPPED);
    assertThat(v.record().lastError()).contains("QEMU failed to start (exit 1)").contains("Cannot allocate memory");
    assertThat(v.record().pid()).as("no process, so no forwarded ports shown").isZero();
    assertThat(paths.vmRunDir("dies")).as("no sockets, no pidfile").doesNotExist();
    assertThat(saved("dies").state()).isEqualTo(VmState.STOPPED);
    assertThat(manager.isRunning("dies")).isFalse();
    assertThat(states("dies")).containsExactly(VmState.STARTING, VmState.STOPPED);
  }

  @Test
  void start_whenQemuDiesBeforeItsLinksConnect_killsNothingLive_andLeavesNothingBehind() {
    manager.close();
    manager = manager((argv, files, bound) -> {
      ProcessHandle up = qemu.launch(argv, files, bound);
      qemu.crash(); // up, then gone before the daemon connects: its console socket refuses
      return up;
    });
    assertThatThrownBy(() -> createAndStart("brief")).isInstanceOf(VmException.class).hasMessageContaining("console");
    VmView v = manager.get("brief");
    assertThat(v.record().state()).isEqualTo(VmState.STOPPED);
    assertThat(v.record().pid()).isZero();
    assertThat(v.hello()).isNull();
    assertThat(paths.vmRunDir("brief")).doesNotExist();
    assertThat(saved("brief").state()).isEqualTo(VmState.STOPPED);
    assertThat(qemu.anyRunning()).isFalse();
    assertThat(states("brief")).containsExactly(VmState.STARTING, VmState.STOPPED);
  }

  @Test
  void aRunningVm_whoseQemuDies_isCrashed_onlyOnceItsResourcesAreReleased() throws Exception {
    createAndStart("crashy");
    Files.writeString(paths.vmStateDir("crashy").resolve("console.log"), "Kernel panic - not syncing: VFS\n");
    CompletableFuture<String> seenAtTheEvent = new CompletableFuture<>();
    manager.watch(e -> {
      if (e.kind() == LifecycleEvent.Kind.CRASHED) {
        // On the thread that publishes CRASHED, at that moment: what a reader who sees it finds.
        VmView v = manager.get("crashy");
        seenAtTheEvent.complete("runDir=" + Files.exists(paths.vmRunDir("crashy")) + " saved=" + saved("crashy").state()
            + " state=" + v.record().state() + " pid=" + v.record().pid() + " running=" + manager.isRunning("crashy"));
      }
    });
    qemu.crash();
    assertThat(seenAtTheEvent.get(30, TimeUnit.SECONDS)).isEqualTo("runDir=false saved=CRASHED state=CRASHED pid=0 running=false");
    assertThat(manager.get("crashy").record().lastError()).isEqualTo("QEMU exited unexpectedly; console tail: Kernel panic - not syncing: VFS");
    assertThat(states("crashy")).containsExactly(VmState.STARTING, VmState.RUNNING, VmState.CRASHED);
  }

  @Test
  void aGuestThatPowersItselfOff_isStopped_notCrashed() throws Exception {
    createAndStart("halts");
    CompletableFuture<VmState> settled = new CompletableFuture<>();
    manager.watch(e -> {
      if (e.state() == VmState.STOPPED || e.state() == VmState.CRASHED) {
        settled.complete(e.state());
      }
    });
    qemu.powerOff();
    assertThat(settled.get(30, TimeUnit.SECONDS)).isEqualTo(VmState.STOPPED);
    assertThat(manager.get("halts").record().lastError()).isEmpty();
    assertThat(paths.vmRunDir("halts")).doesNotExist();
  }

  @Test
  void stop_whenTheGuestIgnoresTheButton_quitsQemu_andSaysStoppedWithNothingLeft() {
    createAndStart("deaf");
    qemu.qmp().answer("system_powerdown", new JsonObject()); // and nothing happens
    VmRecord r = manager.stop("deaf", false, Duration.ofMillis(500));
    assertThat(r.state()).isEqualTo(VmState.STOPPED);
    assertThat(r.pid()).isZero();
    assertThat(qmpSent()).containsExactly("system_powerdown", "quit");
    assertThat(qemu.anyRunning()).isFalse();
    assertThat(paths.vmRunDir("deaf")).doesNotExist();
    assertThat(saved("deaf").state()).isEqualTo(VmState.STOPPED);
    assertThat(states("deaf")).as("QMP closing during the stop is no crash")
        .containsExactly(VmState.STARTING, VmState.RUNNING, VmState.STOPPING, VmState.STOPPED);
  }

  @Test
  void readers_whileAStopWaitsOutTheGuest_answerWithoutWaitingForIt() throws Exception {
    createAndStart("slow");
    qemu.qmp().answer("system_powerdown", new JsonObject());
    CompletableFuture<VmRecord> stop = CompletableFuture.supplyAsync(() -> manager.stop("slow", false, Duration.ofSeconds(60)));
    qemu.qmp().awaitCommand("system_powerdown", Duration.ofSeconds(30));
    // The stop owns the VM for up to 60 s from here; none of these may wait for it.
    assertThat(manager.get("slow").record().state()).isEqualTo(VmState.STOPPING);
    assertThat(manager.list()).extracting(v -> v.record().state()).containsExactly(VmState.STOPPING);
    assertThat(manager.isRunning("slow")).isTrue();
    assertThatThrownBy(() -> manager.awaitAgentReady("slow", Duration.ofSeconds(60)))
        .hasMessage("cannot wait for the agent of VM 'slow': it is STOPPING");
    assertThatThrownBy(() -> manager.agent("slow")).hasMessage("cannot exec in VM 'slow': it is STOPPING");
    assertThat(stop).as("the stop still waits for the guest").isNotDone();
    qemu.powerOff(); // the guest gives in
    assertThat(stop.get(30, TimeUnit.SECONDS).state()).isEqualTo(VmState.STOPPED);
  }

  @Test
  void aVmStartedAgainAfterACrash_runsANewQemu() throws Exception {
    createAndStart("again");
    long first = qemu.process().pid();
    crashAndWait();
    VmRecord r = manager.start("again");
    assertThat(r.state()).isEqualTo(VmState.RUNNING);
    assertThat(r.pid()).isNotEqualTo(first).isEqualTo(qemu.process().pid());
    assertThat(r.lastError()).as("a new start clears the crash's reason").isEmpty();
  }

  @Test
  void aCrashedVmWithRestartOnFailure_isStartedAgainByTheNextDaemon_andOneWithNo_isLeft() throws Exception {
    manager.create(VmConfig.builder("keep").memoryMib(256).accel("tcg").restart(RestartPolicy.ON_FAILURE).build(), true);
    manager.create(VmConfig.builder("leave").memoryMib(256).accel("tcg").build(), false);
    long first = qemu.process().pid();
    crashAndWait();
    manager.close();

    manager = manager(qemu);
    manager.recover();

    Poll.until("VM keep to run again", Duration.ofSeconds(60), () -> manager.get("keep").record().state() == VmState.RUNNING);
    assertThat(manager.get("keep").record().pid()).isNotEqualTo(first).isEqualTo(qemu.process().pid());
    assertThat(manager.get("leave").record().state()).as("never started, restart no").isEqualTo(VmState.CREATED);
    assertThat(RestartPolicy.NO.restartsFrom("CRASHED")).isFalse();
    assertThat(RestartPolicy.ON_FAILURE.restartsFrom("STOPPED")).isFalse();
    assertThat(RestartPolicy.ALWAYS.restartsFrom("STOPPED")).isTrue();
    assertThat(RestartPolicy.ALWAYS.restartsFrom("CREATED")).isFalse();
  }
}
