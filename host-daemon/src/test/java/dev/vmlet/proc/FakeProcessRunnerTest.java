package dev.vmlet.proc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FakeProcessRunnerTest {
  private static final Duration T = Duration.ofSeconds(5);
  private final FakeProcessRunner fake = new FakeProcessRunner();

  @Test
  void theLongestScriptedPrefix_answers_andEveryCallIsRecorded() throws Exception {
    fake.when("qemu-img").thenFail(1, "qemu-img: unknown")
        .when("qemu-img", "info").thenPrint("{\"format\": \"raw\"}");
    assertThat(fake.run(ProcessRequest.of(T, "qemu-img", "info", "a")).stdout()).isEqualTo("{\"format\": \"raw\"}");
    ProcessResult create = fake.run(ProcessRequest.of(T, "qemu-img", "create", "b"));
    assertThat(create.exitCode()).isEqualTo(1);
    assertThat(create.stderr()).isEqualTo("qemu-img: unknown");
    assertThat(fake.commandLines()).containsExactly("qemu-img info a", "qemu-img create b");
    assertThat(fake.calls()).extracting(ProcessRequest::timeout).containsOnly(T);
  }

  @Test
  void ofEqualPrefixes_theLatestScriptWins() throws Exception {
    fake.when("id").thenPrint("1").when("id").thenPrint("2");
    assertThat(fake.run(ProcessRequest.of(T, "id", "-u")).stdout()).isEqualTo("2");
  }

  @Test
  void anUnscriptedCommand_failsToStart_asAMissingProgramDoes_andIsStillRecorded() {
    assertThatThrownBy(() -> fake.run(ProcessRequest.of(T, "xorriso", "-as", "mkisofs")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("Cannot run program \"xorriso\"")
        .hasMessageContaining("nothing scripted for xorriso -as mkisofs");
    assertThat(fake.commandLines()).containsExactly("xorriso -as mkisofs");
  }

  @Test
  void replies_passThroughTheLimit_theMerge_andTheLineListener_asTheRealRunnersDo() throws Exception {
    fake.when("build").thenAnswer(r -> FakeProcessRunner.Reply.exit(0, "one\ntwo\n", "three\n"));
    List<String> lines = new ArrayList<>();
    ProcessResult r = fake.run(ProcessRequest.of(T, "build").withStderrMerged().withLines(lines::add).withOutputLimit(6));
    assertThat(lines).containsExactly("one", "two", "three");
    assertThat(r.stdout()).isEqualTo("one\ntw");
    assertThat(r.stderr()).isEmpty();
    assertThat(r.cut()).isTrue();
  }

  @Test
  void aScriptedTimeOut_isAResultThatRequireSuccessWordsAsTheRealOne() throws Exception {
    fake.when("sleep").thenTimeOut();
    ProcessResult r = fake.run(ProcessRequest.of(T, "sleep", "9"));
    assertThat(r.timedOut()).isTrue();
    assertThatThrownBy(r::requireSuccess).hasMessage("sleep 9 did not finish within 5 s");
  }

  @Test
  void anAnswer_seesTheRequest_includingItsStdin() throws Exception {
    fake.when("cat").thenAnswer(r -> FakeProcessRunner.Reply.exit(0, new String(r.stdin()), ""));
    assertThat(fake.run(ProcessRequest.of(T, "cat").withStdin("in".getBytes())).stdout()).isEqualTo("in");
  }
}
