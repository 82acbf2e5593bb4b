package dev.vmlet.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The request's checks and the one wording of a failed command, without processes. */
class ProcessResultTest {
  private static final ProcessRequest IMG = ProcessRequest.of(Duration.ofSeconds(60), "qemu-img", "info", "a.qcow2");

  @Test
  void aFailureWithoutOutput_saysItPrintedNothing() {
    assertThat(new ProcessFailedException(new ProcessResult(IMG, 1, false, "", " \n", false)))
        .hasMessage("qemu-img info a.qcow2 exited with 1 and printed nothing");
  }

  @Test
  void aTimeOut_isWordedInWholeSeconds_withWhatItPrintedBefore() {
    assertThat(new ProcessFailedException(new ProcessResult(IMG, -1, true, "half\n", "", false)))
        .hasMessage("qemu-img info a.qcow2 did not finish within 60 s: half");
  }

  @Test
  void aLongOutput_isQuotedByItsEnd_andACutOneSaysSo() {
    String out = "x".repeat(5000) + "the error";
    String msg = new ProcessFailedException(new ProcessResult(IMG, 1, false, out, "warning", true)).getMessage();
    assertThat(msg).startsWith("qemu-img info a.qcow2 exited with 1: ...").endsWith("the error\nwarning (output cut)");
    assertThat(msg.length()).isLessThan(ProcessFailedException.TAIL_CHARS + 100);
  }

  @Test
  void aSuccess_passesRequireSuccess() throws Exception {
    ProcessResult ok = new ProcessResult(IMG, 0, false, "{}", "", false);
    assertThat(ok.requireSuccess()).isSameAs(ok);
  }

  @Test
  void aRequest_needsAProgram_aPositiveTimeOut_andALimitNotBelowZero() {
    assertThatThrownBy(() -> ProcessRequest.of(Duration.ofSeconds(1))).hasMessageContaining("at least a program");
    assertThatThrownBy(() -> ProcessRequest.of(Duration.ZERO, "true")).hasMessageContaining("must be positive");
    assertThatThrownBy(() -> ProcessRequest.of(Duration.ofSeconds(1), "true").withOutputLimit(-1))
        .hasMessageContaining("must not be negative");
    assertThatThrownBy(() -> new ProcessResult(IMG, 0, true, "", "", false)).hasMessageContaining("no exit code");
  }

  @Test
  void aVeryLongCommand_isShortenedInMessages() {
    ProcessRequest r = ProcessRequest.of(Duration.ofSeconds(1), "echo", "y".repeat(2000));
    assertThat(r.commandLine()).hasSize(503).endsWith("...");
  }
}
