package dev.vmlet.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proc.FakeProcessRunner;
import dev.vmlet.proc.FakeProcessRunner.Reply;
import dev.vmlet.proc.ProcessRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.io.IOException;

/** Image builds with the build script scripted: what it is run with, what a failure says and leaves. */
class ImageBuilderTest {
  @TempDir Path cache;
  private final FakeProcessRunner runner = new FakeProcessRunner();
  private final List<String> progress = new ArrayList<>();

  /** A build script that writes every output of the Debian recipe and says two steps. */
  private static Reply builds(ProcessRequest r) throws IOException {
    Path out = Files.createDirectories(Path.of(r.command().get(3)));
    for (String o : ImageBuilder.DEBIAN.outputs()) {
      Files.writeString(out.resolve(o), o);
    }
    return Reply.exit(0, "debootstrap\nkernel\n", "");
  }

  @Test
  void aBuild_runsItsScriptWithBash_passesItsLinesOn_andASecondBuildIsUpToDate() throws Exception {
    Path image = cache.resolve("images/debian");
    runner.when("bash").thenAnswer(ImageBuilderTest::builds);
    ImageBuilder.build(ImageBuilder.DEBIAN, null, image, progress::add, runner);
    assertThat(progress).containsExactly("building into " + image, "debootstrap", "kernel");
    assertThat(runner.calls()).singleElement().satisfies(r -> {
      assertThat(r.command().get(1)).endsWith("/scripts/build-debian.sh");
      assertThat(r.command().subList(2, 5)).containsExactly("", r.command().get(3), cache.resolve("images/downloads").toString());
      assertThat(r.timeout()).isEqualTo(ImageBuilder.BUILD_TIMEOUT);
    });
    assertThat(ImageBuilder.load(ImageBuilder.DEBIAN, image)).isPresent();
    ImageBuilder.build(ImageBuilder.DEBIAN, null, image, progress::add, runner);
    assertThat(progress).last().isEqualTo("up to date");
    assertThat(runner.calls()).hasSize(1);
  }

  @Test
  void aFailingBuild_quotesTheScriptsLastTenLines_andLeavesNoImageNorStaging() throws Exception {
    String log = IntStream.rangeClosed(1, 12).mapToObj(i -> "line " + i).collect(Collectors.joining("\n"));
    runner.when("bash").thenAnswer(r -> Reply.exit(2, log, ""));
    Path image = cache.resolve("images/debian");
    assertThatThrownBy(() -> ImageBuilder.build(ImageBuilder.DEBIAN, null, image, progress::add, runner))
        .hasMessage("building the debian image failed (exit 2): line 3 | line 4 | line 5 | line 6 | line 7 | line 8 | line 9"
            + " | line 10 | line 11 | line 12");
    try (var left = Files.list(cache.resolve("images"))) {
      assertThat(left).isEmpty();
    }
  }

  @Test
  void aHungBuild_failsAfterItsBound() {
    runner.when("bash").thenTimeOut();
    assertThatThrownBy(() -> ImageBuilder.build(ImageBuilder.DEBIAN, null, cache.resolve("images/debian"), progress::add, runner))
        .hasMessageStartingWith("building the debian image did not finish within 2 h");
  }
}
