package dev.vmlet.qmp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import com.google.gson.JsonPrimitive;
import java.io.IOException;

/** QmpClient against a fake QEMU speaking QMP over a real unix socket; QmpClientIT does the same against QEMU. */
class QmpClientTest {
  private static final Duration T = Duration.ofSeconds(5);
  private static final long WAIT_S = 5;

  @TempDir Path dir;
  private FakeQmpServer qemu;
  private QmpClient qmp;
  private final BlockingQueue<QmpEvent> events = new LinkedBlockingQueue<>();
  private final CountDownLatch closed = new CountDownLatch(1);

  @BeforeEach
  void start() throws Exception {
    qemu = FakeQmpServer.start(dir.resolve("qmp.sock"));
  }

  @AfterEach
  void stop() throws Exception {
    if (qmp != null) {
      qmp.close();
    }
    qemu.close();
  }

  private QmpClient connect() throws Exception {
    qmp = QmpClient.connect(dir.resolve("qmp.sock"), T, events::add, closed::countDown);
    return qmp;
  }

  private static JsonObject json(String s) {
    return JsonParser.parseString(s).getAsJsonObject();
  }

  @Test
  void connect_readsTheGreeting_andNegotiatesCapabilitiesFirst() throws Exception {
    connect();
    assertThat(qemu.commandNames()).containsExactly("qmp_capabilities");
    assertThat(qemu.commands().get(0).has("id")).isTrue();
    assertThat(qmp.isClosed()).isFalse();
  }

  @Test
  void aCommand_isSentWithItsArguments_andGetsTheAnswerCarryingItsId() throws Exception {
    qemu.answer("query-status", json("{\"status\": \"running\", \"singlestep\": false, \"running\": true}"));
    connect();
    JsonObject args = json("{\"device\": \"balloon0\"}");
    assertThat(qmp.execute("query-status", args, T).getAsJsonObject().get("status").getAsString()).isEqualTo("running");
    JsonObject sent = qemu.awaitCommand("query-status", T);
    assertThat(sent.get("arguments")).isEqualTo(args);
    assertThat(sent.get("id").getAsString()).isNotEqualTo(qemu.commands().get(0).get("id").getAsString());
  }

  @Test
  void answersOutOfOrder_reachTheCommandsTheyBelongTo() throws Exception {
    AtomicReference<FakeQmpServer.Command> held = new AtomicReference<>();
    qemu.on("human-monitor-command", held::set).answer("query-name", json("{\"name\": \"a\"}"));
    connect();
    CompletableFuture<String> slow = CompletableFuture.supplyAsync(() -> {
      try {
        return qmp.execute("human-monitor-command", null, T).getAsString();
      } catch (QmpException e) {
        throw new IllegalStateException(e);
      }
    });
    qemu.awaitCommand("human-monitor-command", T);
    assertThat(qmp.execute("query-name", null, T).getAsJsonObject().get("name").getAsString()).isEqualTo("a");
    held.get().answer(new JsonPrimitive("saved"));
    assertThat(slow.get(WAIT_S, TimeUnit.SECONDS)).isEqualTo("saved");
  }

  @Test
  void anErrorAnswer_isAQmpException_withQemusErrorClassAndText() throws Exception {
    qemu.fail("cont", "GenericError", "Resetting the Virtual Machine is required");
    connect();
    assertThatThrownBy(() -> qmp.execute("cont", null, T))
        .isInstanceOfSatisfying(QmpException.class, e -> assertThat(e.errorClass()).isEqualTo("GenericError"))
        .hasMessage("Resetting the Virtual Machine is required");
    assertThatThrownBy(() -> qmp.execute("no-such-command", null, T))
        .isInstanceOfSatisfying(QmpException.class, e -> assertThat(e.errorClass()).isEqualTo("CommandNotFound"));
  }

  @Test
  void aCommandQemuNeverAnswers_failsWithNoAnswerAtItsTimeout_andTheClientStaysUsable() throws Exception {
    AtomicReference<FakeQmpServer.Command> held = new AtomicReference<>();
    qemu.on("system_powerdown", held::set).answer("query-name", new JsonObject());
    connect();
    assertThatThrownBy(() -> qmp.execute("system_powerdown", null, Duration.ofMillis(200)))
        .isInstanceOfSatisfying(QmpException.class, e -> assertThat(e.errorClass()).isEqualTo(QmpException.NO_ANSWER))
        .hasMessage("QMP system_powerdown got no answer within 200 ms");
    held.get().answer(new JsonObject()); // too late: nobody waits for it any more
    assertThat(qmp.execute("query-name", null, T).getAsJsonObject().size()).isZero();
    assertThat(qmp.isClosed()).isFalse();
  }

  @Test
  void events_reachTheListener_inOrder_withTheirData() throws Exception {
    connect();
    qemu.event("STOP", null);
    qemu.event("SHUTDOWN", json("{\"guest\": true, \"reason\": \"guest-shutdown\"}"));
    assertThat(events.poll(WAIT_S, TimeUnit.SECONDS)).isEqualTo(new QmpEvent("STOP", new JsonObject()));
    QmpEvent shutdown = events.poll(WAIT_S, TimeUnit.SECONDS);
    assertThat(shutdown.name()).isEqualTo("SHUTDOWN");
    assertThat(shutdown.data().get("guest").getAsBoolean()).isTrue();
  }

  @Test
  void eventsBeforeTheGreeting_reachTheListenerFirst_andTheClientConnects() throws Exception {
    qemu.eventsBeforeGreeting("RESUME");
    connect();
    assertThat(qemu.commandNames()).containsExactly("qmp_capabilities");
    qemu.event("STOP", null);
    assertThat(events.poll(WAIT_S, TimeUnit.SECONDS).name()).isEqualTo("RESUME");
    assertThat(events.poll(WAIT_S, TimeUnit.SECONDS).name()).isEqualTo("STOP");
  }

  @Test
  void whenQemuExits_onCloseRuns_andAWaitingCommandFailsAtOnce() throws Exception {
    qemu.neverAnswer("query-status");
    connect();
    CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
      try {
        qmp.execute("query-status", null, Duration.ofSeconds(60));
      } catch (QmpException e) {
        throw new IllegalStateException(e);
      }
    });
    qemu.awaitCommand("query-status", T);
    qemu.closeConnection();
    assertThat(closed.await(WAIT_S, TimeUnit.SECONDS)).isTrue();
    assertThatThrownBy(() -> waiting.get(WAIT_S, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
        .hasRootCauseMessage("QMP connection closed (QEMU exited?)");
    assertThat(qmp.isClosed()).isTrue();
    assertThatThrownBy(() -> qmp.execute("query-status", null, T)).hasMessage("QMP connection is closed");
  }

  @Test
  void quit_isAnswered_afterTheShutdownEvent_andThenQemuIsGone() throws Exception {
    connect();
    qmp.execute("quit", null, T);
    assertThat(events.poll(WAIT_S, TimeUnit.SECONDS).data().get("reason").getAsString()).isEqualTo("host-qmp-quit");
    assertThat(closed.await(WAIT_S, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void connectingWhereNoQemuListens_orToSomethingElse_isAQmpException() throws Exception {
    assertThatThrownBy(() -> QmpClient.connect(dir.resolve("none.sock"), T, e -> { }, () -> { }))
        .isInstanceOf(QmpException.class).hasMessageContaining("cannot connect to QMP at " + dir.resolve("none.sock"));
    Path other = dir.resolve("other.sock");
    try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(other.toFile()))) {
      CompletableFuture<Void> greeter = CompletableFuture.runAsync(() -> {
        try (var s = server.accept()) {
          s.getOutputStream().write("{\"hello\": 1}\r\n".getBytes());
          s.getInputStream().read(); // until the client hangs up
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      });
      assertThatThrownBy(() -> QmpClient.connect(other, T, e -> { }, () -> { }))
          .isInstanceOf(QmpException.class).hasMessageContaining("not a QMP greeting");
      greeter.get(WAIT_S, TimeUnit.SECONDS);
    }
  }
}
