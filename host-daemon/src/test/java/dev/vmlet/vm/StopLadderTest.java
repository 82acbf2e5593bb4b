package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.qmp.FakeQmpServer;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.spec.VmConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stop ladder without QEMU: a real process stands in for QEMU (so exits, SIGTERM and SIGKILL
 * are real) and {@link FakeQmpServer} answers QMP as QEMU does.
 */
class StopLadderTest {
  @TempDir Path tmp;
  private FakeQmpServer qmp;
  private QmpClient client;
  private Process qemu;

  @BeforeEach
  void setUp() throws Exception {
    qmp = FakeQmpServer.start(tmp.resolve("qmp.sock"));
  }

  @AfterEach
  void tearDown() throws Exception {
    if (client != null) {
      client.close();
    }
    qmp.close();
    if (qemu != null) {
      qemu.destroyForcibly();
    }
  }

  /** A VM whose "QEMU" is {@code command}, connected to the fake QMP server. */
  private VmRuntime vm(VmState from, String... command) throws Exception {
    qemu = new ProcessBuilder(command).start();
    client = QmpClient.connect(tmp.resolve("qmp.sock"), Duration.ofSeconds(10), e -> { }, () -> { });
    VmRuntime vm = new VmRuntime(VmRecord.created(VmConfig.builder("ladder").build(), "iid-1", null).withState(from)
        .withStarted(qemu.pid(), "tcg", "", 0, "", List.of()), new VmFiles(tmp.resolve("run"), tmp.resolve("state")));
    synchronized (vm) {
      vm.publish(s -> s.withQemu(qemu.toHandle(), null).withLinks(new QemuLinks(null, client, null)));
    }
    return vm;
  }

  private List<String> sent() {
    return qmp.commandNames().stream().filter(n -> !n.equals("qmp_capabilities")).toList();
  }

  @Test
  void aGuestThatPowersOffOnTheButton_isGone_withoutQuit() throws Exception {
    VmRuntime vm = vm(VmState.RUNNING, "sleep", "600");
    qmp.on("system_powerdown", c -> {
      c.answer(new JsonObject());
      qemu.destroy(); // the guest powers off, QEMU exits
    });
    long t0 = System.nanoTime();
    StopLadder.run(vm, VmState.RUNNING, false, Duration.ofSeconds(30));
    assertThat(QemuProcess.isRunning(qemu.toHandle())).isFalse();
    assertThat(sent()).containsExactly("system_powerdown");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(30));
  }

  @Test
  void aGuestThatIgnoresTheButton_getsQmpQuit_afterTheGracefulWait() throws Exception {
    VmRuntime vm = vm(VmState.RUNNING, "sleep", "600");
    qmp.answer("system_powerdown", new JsonObject()); // and nothing happens
    qmp.on("quit", c -> {
      c.answer(new JsonObject());
      qemu.destroy();
      c.closeConnection();
    });
    long t0 = System.nanoTime();
    StopLadder.run(vm, VmState.RUNNING, false, Duration.ofMillis(700));
    assertThat(QemuProcess.isRunning(qemu.toHandle())).isFalse();
    assertThat(sent()).containsExactly("system_powerdown", "quit");
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("the guest had its graceful wait").isGreaterThanOrEqualTo(Duration.ofMillis(700));
  }

  @Test
  void aPausedVm_skipsTheButton_itsGuestCannotReact() throws Exception {
    VmRuntime vm = vm(VmState.PAUSED, "sleep", "600");
    qmp.on("quit", c -> {
      c.answer(new JsonObject());
      qemu.destroy();
      c.closeConnection();
    });
    StopLadder.run(vm, VmState.PAUSED, false, Duration.ofSeconds(30));
    assertThat(QemuProcess.isRunning(qemu.toHandle())).isFalse();
    assertThat(sent()).containsExactly("quit");
  }

  @Test
  void aQemuThatIgnoresQuitAndSigterm_isKilled() throws Exception {
    // SIG_IGN survives exec: this "QEMU" ignores SIGTERM, and the fake's quit does nothing to it.
    VmRuntime vm = vm(VmState.RUNNING, "sh", "-c", "trap '' TERM; exec sleep 600");
    qmp.answer("quit", new JsonObject());
    StopLadder.run(vm, VmState.RUNNING, true, Duration.ofSeconds(30));
    assertThat(QemuProcess.isRunning(qemu.toHandle())).isFalse();
    assertThat(sent()).as("forced: no button").containsExactly("quit");
    // Gone from /proc is not yet reaped by this JVM's process reaper: wait for that, bounded.
    assertThat(qemu.waitFor(10, TimeUnit.SECONDS)).as("reaped").isTrue();
    assertThat(qemu.exitValue()).as("SIGKILL").isEqualTo(128 + 9);
  }
}
