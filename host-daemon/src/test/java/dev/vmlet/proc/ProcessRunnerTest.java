package dev.vmlet.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import java.nio.file.NoSuchFileException;

/** The real runner against real programs: sh, cat, head. */
class ProcessRunnerTest {
  private static final Duration BOUND = Duration.ofSeconds(20);
  private final ProcessRunner runner = ProcessRunner.system();

  private static ProcessRequest sh(Duration timeout, String script) {
    return ProcessRequest.of(timeout, "/bin/sh", "-c", script);
  }

  @Test
  void aCommandsExitCodeAndOutput_areReturned_withStdoutAndStderrApart() throws Exception {
    ProcessResult r = runner.run(sh(BOUND, "echo out; echo err >&2; exit 3"));
    assertThat(r.exitCode()).isEqualTo(3);
    assertThat(r.timedOut()).isFalse();
    assertThat(r.stdout()).isEqualTo("out\n");
    assertThat(r.stderr()).isEqualTo("err\n");
    assertThat(r.cut()).isFalse();
    assertThat(r.succeeded()).isFalse();
    assertThat(runner.run(sh(BOUND, "true")).succeeded()).isTrue();
  }

  @Test
  void mergedStderr_arrivesInStdout_inTheOrderWritten() throws Exception {
    ProcessResult r = runner.run(sh(BOUND, "echo 1; echo 2 >&2; echo 3").withStderrMerged());
    assertThat(r.stdout()).isEqualTo("1\n2\n3\n");
    assertThat(r.stderr()).isEmpty();
  }

  @Test
  void aCommandPastItsTimeOut_isKilledWithItsDescendants_andTheCallerWaitsBoundedly() throws Exception {
    long t0 = System.nanoTime();
    // The background sleep holds stdout open: the output ends only if the descendants die too.
    ProcessResult r = runner.run(sh(Duration.ofMillis(500), "sleep 30 & echo $!; sleep 30"));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertThat(r.timedOut()).isTrue();
    assertThat(r.exitCode()).isEqualTo(-1);
    assertThat(r.cut()).as("the output ended, so no descendant holds the pipe").isFalse();
    assertThat(ms).isLessThan(500 + SystemProcessRunner.GRACE.toMillis());
    // Killed: its end may still be under way (its pipe is closed before it is a zombie), so wait for it, boundedly.
    assertThat(exitsWithin(Long.parseLong(r.stdout().strip()), Duration.ofSeconds(10))).as("the descendant was killed").isTrue();
  }

  @Test
  void aDescendantThatOutlivesTheCommandWithItsPipesOpen_costsTheCallerAtMostTheGrace() throws Exception {
    long t0 = System.nanoTime();
    ProcessResult r = runner.run(sh(BOUND, "sleep 30 & echo $!"));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    ProcessHandle.of(Long.parseLong(r.stdout().strip())).ifPresent(ProcessHandle::destroyForcibly);
    assertThat(r.succeeded()).isTrue();
    // Whether the output counts as cut depends on timing, not on the runner: when the command exits
    // between two reads, the JDK's reaper drains what is buffered and closes the pipe itself
    // (ProcessPipeInputStream.processExited), so the reader sees its end. What matters is that the
    // caller never waits for the descendant's 30 s.
    assertThat(ms).isLessThan(GRACE_PLUS_MARGIN_MS);
  }

  @Test
  void outputOverTheLimit_isKeptUpToIt_saysItWasCut_andNeverBlocksTheCommand() throws Exception {
    // Both streams far over a pipe's 64 KiB: a runner reading them one after the other would deadlock.
    ProcessResult r = runner.run(sh(BOUND, "head -c 1000000 /dev/zero >&2; head -c 1000000 /dev/zero; exit 4")
        .withOutputLimit(1000));
    assertThat(r.timedOut()).isFalse();
    assertThat(r.exitCode()).isEqualTo(4);
    assertThat(r.stdout()).hasSize(1000);
    assertThat(r.stderr()).hasSize(1000);
    assertThat(r.cut()).isTrue();
  }

  @Test
  void stdin_isPassedThrough_andWithoutItTheCommandReadsDevNull() throws Exception {
    assertThat(runner.run(ProcessRequest.of(BOUND, "cat").withStdin("hello\n".getBytes(StandardCharsets.UTF_8))).stdout())
        .isEqualTo("hello\n");
    ProcessResult none = runner.run(ProcessRequest.of(BOUND, "cat"));
    assertThat(none.succeeded()).isTrue();
    assertThat(none.stdout()).isEmpty();
  }

  @Test
  void stdinACommandDoesNotRead_doesNotBlockIt() throws Exception {
    ProcessResult r = runner.run(sh(BOUND, "exit 0").withStdin(new byte[1 << 20]));
    assertThat(r.succeeded()).isTrue();
  }

  @Test
  void everyLine_reachesTheListener_asItArrives_withoutItsLineEnd() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    ProcessResult r = runner.run(sh(BOUND, "printf 'a\\nb\\r\\nc'").withLines(lines::add).withOutputLimit(1));
    assertThat(lines).containsExactly("a", "b", "c");
    assertThat(r.stdout()).isEqualTo("a");
  }

  @Test
  void aProgramThatDoesNotExist_cannotStart_andIsAPlainIoException() {
    assertThatThrownBy(() -> runner.run(ProcessRequest.of(BOUND, "/nonexistent/program")))
        .isInstanceOf(IOException.class)
        .isNotInstanceOf(ProcessFailedException.class)
        .hasMessageContaining("/nonexistent/program");
  }

  @Test
  void anInterruptedCaller_killsTheCommand_andKeepsItsInterruptFlag() {
    long t0 = System.nanoTime();
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(() -> runner.run(sh(BOUND, "sleep 30")))
          .isInstanceOf(InterruptedIOException.class)
          .hasMessageContaining("sleep 30");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(SystemProcessRunner.GRACE.toMillis());
  }

  @Test
  void requireSuccess_namesTheCommandHowItEndedAndItsOutput() throws Exception {
    assertThatThrownBy(() -> runner.run(sh(BOUND, "echo broken disk >&2; exit 2")).requireSuccess())
        .isInstanceOf(ProcessFailedException.class)
        .hasMessage("/bin/sh -c echo broken disk >&2; exit 2 exited with 2: broken disk");
    assertThatThrownBy(() -> runner.run(sh(Duration.ofMillis(300), "sleep 30")).requireSuccess())
        .hasMessageStartingWith("/bin/sh -c sleep 30 did not finish within 300 ms");
  }

  /** Dead: gone from /proc, or a zombie its new parent has not reaped yet. */
  private static final long GRACE_PLUS_MARGIN_MS = SystemProcessRunner.GRACE.toMillis() + 5_000;

  private static boolean exitsWithin(long pid, Duration bound) throws IOException {
    long deadline = System.nanoTime() + bound.toNanos();
    while (!exitedOrZombie(pid)) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.onSpinWait();
    }
    return true;
  }

  private static boolean exitedOrZombie(long pid) throws IOException {
    Path stat = Path.of("/proc/" + pid + "/stat");
    String s;
    try {
      s = Files.readString(stat);
    } catch (NoSuchFileException gone) {
      return true;
    }
    char state = s.charAt(s.lastIndexOf(')') + 2);
    return state == 'Z' || state == 'X';
  }
}
