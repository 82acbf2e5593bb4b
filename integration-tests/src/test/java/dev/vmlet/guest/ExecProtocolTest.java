package dev.vmlet.guest;

import dev.vmlet.agent.AgentException;
import dev.vmlet.agent.AgentFiles;
import dev.vmlet.agent.AgentLink;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.GuestInfoReply;
import dev.vmlet.proto.agent.v1.StreamError;
import dev.vmlet.common.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/** Exec, guest info and policy with the real agent and the real daemon link, no VM. */
class ExecProtocolTest {
  @TempDir Path dir;
  private ProtocolHarness h;

  @BeforeEach
  void connect() throws Exception {
    h = new ProtocolHarness(dir);
  }

  @AfterEach
  void close() throws Exception {
    h.close();
  }

  @Test
  void separateOutputs_andTheExitCode() throws Exception {
    ProtocolHarness.Result r = h.run("sh", "-c", "echo out; echo err >&2; exit 7");
    assertThat(r.stdout()).isEqualTo("out\n");
    assertThat(r.stderr()).isEqualTo("err\n");
    assertThat(r.exit().getExitCode()).isEqualTo(7);
    assertThat(r.exit().getTimedOut()).isFalse();
  }

  @Test
  void mergedOutput_keepsTheProgramsOrder_andShellLinesEnvAndWorkdirApply() throws Exception {
    ProtocolHarness.Result r = h.start(ExecStart.newBuilder().setShell("echo 1; echo 2 >&2; echo $GREETING; pwd")
        .putEnv("GREETING", "3").setWorkingDir(dir.toString()).setMergeOutput(true).build()).await();
    assertThat(r.stdout()).isEqualTo("1\n2\n3\n" + dir.toRealPath() + "\n");
    assertThat(r.stderr()).isEmpty();
  }

  @Test
  void stdin_isStreamedIn_andComesBackWhole() throws Exception {
    byte[] data = new byte[3 << 20];
    new Random(1).nextBytes(data);
    ProtocolHarness.Recorder rec = new ProtocolHarness.Recorder();
    int id = h.link.exec(ExecStart.newBuilder().addArgv("sha256sum").setStdin(true).build(), rec);
    for (int off = 0; off < data.length; off += 32 * 1024) {
      h.link.execInput(id, data, off, Math.min(32 * 1024, data.length - off), false);
    }
    h.link.execInput(id, new byte[0], 0, 0, true);
    String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    assertThat(rec.await().stdout()).startsWith(expected);
  }

  @Test
  void aTimeout_killsTheProgram_andSaysSo() throws Exception {
    long t0 = System.nanoTime();
    ProtocolHarness.Result r = h.start(ExecStart.newBuilder().addArgv("sleep").addArgv("30").setTimeoutSeconds(1).build()).await();
    assertThat(r.exit().getTimedOut()).isTrue();
    assertThat(r.exit().getSignal()).isEqualTo(9);
    assertThat(r.exit().getExitCode()).isEqualTo(-1);
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(10));
  }

  @Test
  void cancel_killsTheProgramAndWhatItStarted() throws Exception {
    String marker = "4242" + new Random().nextInt(1000);
    ProtocolHarness.Recorder rec = h.start(ExecStart.newBuilder().setShell("sleep " + marker + " & echo started; wait").build());
    assertThat(new String(rec.chunks.poll(10, TimeUnit.SECONDS))).isEqualTo("started\n");
    h.link.execCancel(rec.id);
    ExecExit exit = rec.await().exit();
    assertThat(exit.getCancelled()).isTrue();
    assertThat(exit.getSignal()).isEqualTo(9);
    Poll.until("the background 'sleep " + marker + "' to be killed too", Duration.ofSeconds(5), () -> !sleeping(marker));
  }

  @Test
  void cancel_killsAlsoWhatTheProgramStartedAndLeftBehind() throws Exception {
    // The subshell starts sleep and exits: sleep is nobody's descendant now, only in the group.
    String marker = "4343" + new Random().nextInt(1000);
    ProtocolHarness.Recorder rec = h.start(ExecStart.newBuilder().setShell("(sleep " + marker + " &); echo started; sleep 300").build());
    assertThat(new String(rec.chunks.poll(10, TimeUnit.SECONDS))).isEqualTo("started\n");
    Poll.until("'sleep " + marker + "' to run", Duration.ofSeconds(10), () -> sleeping(marker));
    h.link.execCancel(rec.id);
    assertThat(rec.await().exit().getCancelled()).isTrue();
    Poll.until("the left-behind 'sleep " + marker + "' to be killed too", Duration.ofSeconds(5), () -> !sleeping(marker));
  }

  private static boolean sleeping(String marker) {
    return ProcessHandle.allProcesses().anyMatch(p -> p.info().arguments().map(a -> List.of(a).contains(marker)).orElse(false));
  }

  @Test
  void fiftyConcurrentExecs_eachGetTheirOwnOutput() throws Exception {
    List<ProtocolHarness.Recorder> recs = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      recs.add(h.start(ExecStart.newBuilder().addArgv("sh").addArgv("-c").addArgv("sleep 0.3; echo $0; exit $(($0 % 5))")
          .addArgv(Integer.toString(i)).build()));
    }
    for (int i = 0; i < 50; i++) {
      ProtocolHarness.Result r = recs.get(i).await();
      assertThat(r.stdout()).isEqualTo(i + "\n");
      assertThat(r.exit().getExitCode()).isEqualTo(i % 5);
    }
  }

  @Test
  void aReaderThatTakesNothing_holdsItsProgramAtTheWindow_whileAnotherExecRuns() throws Exception {
    ProtocolHarness.Recorder slow = new ProtocolHarness.Recorder() {
      @Override
      public boolean returnsCredit() {
        return true; // and it returns none until told
      }
    };
    int id = h.link.exec(ExecStart.newBuilder().addArgv("head").addArgv("-c").addArgv("8388608").addArgv("/dev/zero").build(), slow);
    Thread.sleep(1000); // "nothing more happens" under test: in a second, no more than the window arrives
    long held;
    synchronized (slow) {
      held = slow.out.size();
    }
    assertThat(held).as("bytes sent without credit").isLessThanOrEqualTo(SendWindow.INITIAL);
    // Another stream on the same link is not held up.
    assertThat(h.run("echo", "still here").stdout()).isEqualTo("still here\n");
    // Credit back as the reader "consumes": the rest arrives.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (long given = 0; given < 8 << 20; ) {
      byte[] chunk = slow.chunks.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
      assertThat(chunk).as("output after %d of 8 MiB, with credit for all of it given back", given).isNotNull();
      h.link.consumed(id, chunk.length);
      given += chunk.length;
    }
    assertThat(slow.await().stdout()).hasSize(8 << 20);
  }

  @Test
  void aTtyExec_runsOnATerminalOfTheGivenSize_andFollowsAResize() throws Exception {
    ProtocolHarness.Recorder rec = h.start(ExecStart.newBuilder()
        .setShell("tty; stty size; read line; stty size; echo \"got $line\"; exit 3")
        .setTty(true).setRows(40).setCols(120).setStdin(true).build());
    StringBuilder seen = new StringBuilder();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!seen.toString().contains("40 120") && System.nanoTime() < deadline) {
      byte[] chunk = rec.chunks.poll(100, TimeUnit.MILLISECONDS);
      if (chunk != null) {
        seen.append(new String(chunk));
      }
    }
    assertThat(seen.toString()).contains("/dev/pts/").contains("40 120");
    h.link.execResize(rec.id, 50, 132);
    byte[] line = "hello\n".getBytes();
    h.link.execInput(rec.id, line, 0, line.length, false);
    ProtocolHarness.Result r = rec.await();
    assertThat(r.stdout()).contains("50 132").contains("got hello");
    assertThat(r.stderr()).isEmpty(); // a terminal has one output
    assertThat(r.exit().getExitCode()).isEqualTo(3);
  }

  @Test
  void whatCannotRun_failsWithTheReason() throws Exception {
    assertThatThrownBy(() -> h.run("/no/such/program")).hasCauseInstanceOf(AgentException.class)
        .hasMessageContaining("cannot run '/no/such/program'");
    assertThatThrownBy(() -> h.start(ExecStart.newBuilder().addArgv("true").setWorkingDir("/no/such/dir").build()).await())
        .hasMessageContaining("working directory /no/such/dir does not exist");
    assertThatThrownBy(() -> h.start(ExecStart.newBuilder().build()).await()).hasMessageContaining("give argv or a shell");
  }

  @Test
  void runAsAnotherUser_whenTheAgentIsRoot() throws Exception {
    Assumptions.assumeTrue(GuestFacts.isRoot(), "needs root");
    ProtocolHarness.Result r = h.start(ExecStart.newBuilder().addArgv("id").addArgv("-un").setUser("nobody").build()).await();
    assertThat(r.stdout()).isEqualTo("nobody\n");
  }

  @Test
  void guestInfo_reportsTheMachine() throws Exception {
    GuestInfoReply info = h.link.guestInfo().get(10, TimeUnit.SECONDS);
    assertThat(info.getAgentVersion()).isEqualTo(Agent.VERSION);
    assertThat(info.getGuest().getKernel()).isEqualTo(System.getProperty("os.version"));
    assertThat(info.getMemoryTotalBytes()).isPositive();
    assertThat(info.getUptimeSeconds()).isPositive();
    assertThat(info.getLoadAverageCount()).isEqualTo(3);
    assertThat(info.getAddressesList()).anySatisfy(a -> assertThat(a.getAddress()).isEqualTo("127.0.0.1"));
    assertThat(info.getDisksList()).isNotEmpty().allSatisfy(d -> assertThat(d.getTotalBytes()).isPositive());
  }

  @Test
  void aPolicy_deniesWhatItDoesNotList_namingTheRule() throws Exception {
    h.close();
    Path allowed = Files.createDirectories(dir.resolve("allowed"));
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Files.createSymbolicLink(allowed.resolve("escape"), outside);
    Policy policy = Policy.parse("/etc/vmlet/agent.conf", "# test\nallow = file-read, file-write\npaths = " + allowed + "\n");
    h = new ProtocolHarness(Files.createDirectories(dir.resolve("p")), policy, AgentLink.DEFAULT_HEARTBEAT);
    assertThatThrownBy(() -> h.run("true")).cause().isInstanceOfSatisfying(AgentException.class, e -> {
      assertThat(e.code()).isEqualTo(StreamError.Code.PERMISSION_DENIED);
      assertThat(e.getMessage()).contains("exec is not allowed by /etc/vmlet/agent.conf line 2 (allow = file-read, file-write)");
    });
    InputStream data = new ByteArrayInputStream("x".getBytes());
    Duration t = Duration.ofSeconds(10);
    assertThat(AgentFiles.push(h.link, write(allowed.resolve("ok.txt")), data, () -> null, t).getSize()).isEqualTo(1);
    for (Path denied : List.of(outside.resolve("no.txt"), allowed.resolve("escape/no.txt"), Path.of(allowed + "x/no.txt"))) {
      assertThatThrownBy(() -> AgentFiles.push(h.link, write(denied), new ByteArrayInputStream(new byte[1]), () -> null, t))
          .isInstanceOfSatisfying(AgentException.class, e -> assertThat(e.code()).isEqualTo(StreamError.Code.PERMISSION_DENIED))
          .hasMessageContaining("outside the paths allowed by /etc/vmlet/agent.conf line 3");
    }
    assertThat(outside.resolve("no.txt")).doesNotExist();
    ExecutionException info = Assertions.assertThrows(ExecutionException.class,
        () -> h.link.guestInfo().get(10, TimeUnit.SECONDS));
    assertThat(info.getCause()).hasMessageContaining("info is not allowed");
  }

  @Test
  void aPolicyFileWithAnError_deniesEverything_andSaysWhere() {
    Policy p = Policy.parse("/etc/vmlet/agent.conf", "allow = exec, reboot-the-moon\n");
    assertThat(p.check(Policy.Operation.EXEC)).hasValueSatisfying(s -> assertThat(s)
        .contains("has an error, so everything is denied", "line 1", "unknown operation 'reboot-the-moon'"));
    assertThat(Policy.load(dir.resolve("absent.conf")).check(Policy.Operation.POWER)).isEmpty();
  }

  private static FileWriteStart write(Path p) {
    return FileWriteStart.newBuilder().setPath(p.toString()).build();
  }
}
