package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The permission walk that names what keeps QEMU's user from a file; ids are made up, no user is needed. */
class QemuUserTest {
  static final QemuUser USER = new QemuUser("vmlet-qemu", 4242, 4343, List.of(4444));

  @TempDir Path tmp;
  Path dir;
  Path file;

  @BeforeEach
  void tree() throws Exception {
    mode(tmp, "rwx--x--x");
    dir = Files.createDirectory(tmp.resolve("vms"));
    file = Files.writeString(dir.resolve("vmlinuz"), "kernel");
    mode(dir, "rwxr-xr-x");
    mode(file, "rw-r--r--");
  }

  static void mode(Path p, String m) throws Exception {
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(m));
  }

  @Test
  void aWorldReadableFileBehindTraversableDirectories_isReachable() {
    assertThat(USER.denied(file, false, "the kernel")).isNull();
  }

  @Test
  void aDirectoryThatDoesNotLetItThrough_isNamedWithTheFix() throws Exception {
    mode(dir, "rwx------");
    assertThat(USER.denied(file, false, "the kernel")).isEqualTo("QEMU runs as user vmlet-qemu (uid 4242), which cannot read the kernel "
        + file.toRealPath() + ": " + dir.toRealPath() + " (mode 0700, owner uid " + Files.getAttribute(dir, "unix:uid") + ", group gid "
        + Files.getAttribute(dir, "unix:gid") + ") does not let it through; fix it with: chmod o+x " + dir.toRealPath()
        + ", or keep vmlet's directories where vmlet-qemu can reach them");
  }

  @Test
  void aFileOnlyItsOwnerReads_isRefused_untilItIsHandedOver() throws Exception {
    mode(file, "rw-------");
    assertThat(USER.denied(file, false, "the agent token")).contains("does not let it read it; fix it with: chmod o+r");
    assumeTrue(System.getProperty("user.name").equals("root"), "handing a file over needs root");
    USER.handOver(file);
    assertThat(Files.getAttribute(file, "unix:uid")).isEqualTo(4242);
    assertThat(Files.getAttribute(file, "unix:gid")).isEqualTo(4343);
    assertThat(USER.denied(file, true, "disk root")).isNull();
  }

  @Test
  void writing_needsTheWriteBit() {
    assertThat(USER.denied(file, true, "disk root")).contains("cannot write disk root").contains("does not let it read and write it");
  }

  @Test
  void theGroupBits_countForItsOwnAndItsSupplementaryGroups() throws Exception {
    assumeTrue(System.getProperty("user.name").equals("root"), "changing a file's group needs root");
    mode(dir, "rwxr-x---");
    Files.setAttribute(dir, "unix:gid", 4444);
    assertThat(USER.denied(file, false, "the kernel")).isNull();
    Files.setAttribute(dir, "unix:gid", 4545);
    assertThat(USER.denied(file, false, "the kernel")).contains("does not let it through");
  }

  @Test
  void aMissingFile_isSaidToBeMissing() {
    assertThat(USER.denied(dir.resolve("nope"), false, "the initrd")).isEqualTo("the initrd " + dir.resolve("nope") + " does not exist");
  }
}
