package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a guest lists decides names under the destination, never places elsewhere on the host. */
class TreeCopyTest {
  @TempDir Path dir;

  @Test
  void namesInsideTheDestination_areTaken() throws Exception {
    Path local = Files.createDirectories(dir.resolve("dest"));
    Files.createDirectories(local.resolve("a"));
    assertThat(TreeCopy.inside(local, "a/b.txt")).isEqualTo(local.resolve("a/b.txt"));
    assertThat(TreeCopy.inside(local, "new/deeper/c")).isEqualTo(local.resolve("new/deeper/c"));
    Files.createSymbolicLink(local.resolve("inner"), local.resolve("a")); // a link that stays inside is fine
    assertThat(TreeCopy.inside(local, "inner/x")).isEqualTo(local.resolve("inner/x"));
  }

  @Test
  void dotDot_orALinkTheGuestListedBefore_cannotLeadOutside() throws Exception {
    Path local = Files.createDirectories(dir.resolve("dest"));
    Path outside = Files.createDirectories(dir.resolve("etc"));
    assertThatThrownBy(() -> TreeCopy.inside(local, "../etc/passwd")).hasMessageContaining("outside");
    assertThatThrownBy(() -> TreeCopy.inside(local, "a/../../etc/passwd")).hasMessageContaining("outside");
    Files.createSymbolicLink(local.resolve("evil"), outside); // as the guest's SYMLINK entry would make it
    assertThatThrownBy(() -> TreeCopy.inside(local, "evil/passwd")).hasMessageContaining("symbolic link");
    assertThatThrownBy(() -> TreeCopy.inside(local, "evil/sub/dir")).hasMessageContaining("symbolic link");
    assertThat(outside).isEmptyDirectory();
  }
}
