package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How an exec's program is found: as execvp would, in PATH's order, executables only. */
class FindProgramTest {
  @TempDir Path tmp;

  @Test
  void aNameIsLookedUpInPathsOrder_skippingDirectoriesAndFilesThatCannotRun() throws Exception {
    Path first = Files.createDirectories(tmp.resolve("first"));
    Path second = Files.createDirectories(tmp.resolve("second"));
    Path third = Files.createDirectories(tmp.resolve("third"));
    Files.createDirectories(first.resolve("tool")); // a directory of that name
    Files.writeString(second.resolve("tool"), "#!/bin/sh\n", java.nio.charset.StandardCharsets.UTF_8); // not executable
    Path runnable = Files.writeString(third.resolve("tool"), "#!/bin/sh\n");
    Files.setPosixFilePermissions(runnable, PosixFilePermissions.fromString("rwxr-xr-x"));
    String path = tmp.resolve("missing") + ":" + first + ":" + second + ":" + third;

    assertThat(ExecRunner.findProgram("tool", "", path)).isEqualTo(runnable.toAbsolutePath());
    assertThat(ExecRunner.findProgram("no-such-tool", "", path)).isNull();
  }

  @Test
  void aPathWithASlash_isTakenAsItIs_relativeToTheWorkingDirectory() throws Exception {
    Path runnable = Files.writeString(tmp.resolve("run.sh"), "#!/bin/sh\n");
    Files.setPosixFilePermissions(runnable, PosixFilePermissions.fromString("rwx------"));

    assertThat(ExecRunner.findProgram("./run.sh", tmp.toString(), "/nonexistent")).isEqualTo(tmp.resolve("./run.sh").toAbsolutePath());
    assertThat(ExecRunner.findProgram(runnable.toString(), "/", "")).isEqualTo(runnable);
    assertThat(ExecRunner.findProgram(tmp.toString(), "", "")).as("a directory").isNull();
    assertThat(ExecRunner.findProgram("./missing.sh", tmp.toString(), "/bin")).isNull();
  }
}
