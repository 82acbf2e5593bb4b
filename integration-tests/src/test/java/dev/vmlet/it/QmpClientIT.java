package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.qmp.QmpEvent;
import dev.vmlet.qmp.QmpException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** QmpClient against a real QEMU with no guest OS. */
class QmpClientIT {
  @TempDir Path dir;
  private Process qemu;
  private QmpClient qmp;
  private final BlockingQueue<QmpEvent> events = new LinkedBlockingQueue<>();
  private final CountDownLatch closed = new CountDownLatch(1);

  @BeforeEach
  void startQemu() throws Exception {
    Qemu.assumeInstalled();
    Path sock = dir.resolve("qmp.sock");
    qemu = new ProcessBuilder(List.of(Qemu.BINARY, "-machine", "pc", "-accel", "tcg", "-nodefaults", "-display", "none",
            "-m", "32", "-S", "-qmp", "unix:" + sock + ",server=on,wait=off"))
        .redirectErrorStream(true).redirectOutput(dir.resolve("qemu.log").toFile()).start();
    // The socket file appears when QEMU binds it, a moment before it listens: wait for a connection.
    QmpException[] last = {null};
    try {
      qmp = Poll.forValue("QEMU to accept a QMP connection on " + sock, Duration.ofSeconds(10), () -> {
        try {
          return QmpClient.connect(sock, Duration.ofSeconds(5), events::add, closed::countDown);
        } catch (QmpException e) {
          last[0] = e;
          return null;
        }
      });
    } catch (AssertionError e) {
      if (last[0] != null) {
        e.addSuppressed(last[0]);
      }
      throw e;
    }
  }

  @AfterEach
  void stopQemu() throws Exception {
    if (qmp != null) {
      qmp.close();
    }
    if (qemu != null) {
      qemu.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void queryStatus_ofAQemuStartedWithS_isPrelaunch() throws Exception {
    JsonObject status = qmp.execute("query-status", null, Duration.ofSeconds(5)).getAsJsonObject();
    assertThat(status.get("status").getAsString()).isEqualTo("prelaunch");
    assertThat(status.get("running").getAsBoolean()).isFalse();
  }

  @Test
  void contThenStop_deliverResumeAndStopEvents() throws Exception {
    qmp.execute("cont", null, Duration.ofSeconds(5));
    assertThat(events.poll(5, TimeUnit.SECONDS).name()).isEqualTo("RESUME");
    qmp.execute("stop", null, Duration.ofSeconds(5));
    assertThat(events.poll(5, TimeUnit.SECONDS).name()).isEqualTo("STOP");
  }

  @Test
  void anUnknownCommand_failsWithQemusErrorClass() {
    assertThatThrownBy(() -> qmp.execute("no-such-command", null, Duration.ofSeconds(5)))
        .isInstanceOf(QmpException.class)
        .satisfies(e -> assertThat(((QmpException) e).errorClass()).isEqualTo("CommandNotFound"));
  }

  @Test
  void quit_closesTheClientAndQemuExits() throws Exception {
    try {
      qmp.execute("quit", null, Duration.ofSeconds(5));
    } catch (QmpException e) {
      // QEMU may close the socket before its answer arrives
    }
    assertThat(closed.await(5, TimeUnit.SECONDS)).isTrue();
    assertThat(qemu.waitFor(5, TimeUnit.SECONDS)).isTrue();
    assertThat(qmp.isClosed()).isTrue();
    assertThatThrownBy(() -> qmp.execute("query-status", null, Duration.ofSeconds(1))).isInstanceOf(QmpException.class);
  }
}
