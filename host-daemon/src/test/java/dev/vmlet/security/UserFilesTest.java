package dev.vmlet.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.concurrent.TimeUnit;

/** The kernel decides what a local user may read: real processes run as real (and passwd-less) uids; needs root. */
class UserFilesTest {
  static final Access.Local NOBODY = new Access.Local(65534, 65534);
  static final Access.Local NO_ACCOUNT = new Access.Local(4242, 4242);

  @TempDir Path tmp;
  UserFiles files;

  @BeforeEach
  void asRoot() throws Exception {
    assumeTrue(LocalUsers.self().uid() == 0, "running a process as another user needs root");
    assumeTrue(Files.isExecutable(Path.of(UserFiles.SETPRIV)), "needs " + UserFiles.SETPRIV);
    mode(tmp, "rwxr-xr-x");
    files = new UserFiles("qemu-img");
  }

  static Path mode(Path p, String m) throws Exception {
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(m));
    return p;
  }

  static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  @Test
  void aUser_mayReadAWorldReadableFile_butNotOneOnlyRootMayRead_norOneBehindAClosedDirectory() throws Exception {
    Path open = mode(Files.writeString(tmp.resolve("open.img"), "x"), "rw-r--r--");
    Path rootOnly = mode(Files.writeString(tmp.resolve("root-only.img"), "x"), "rw-------");
    Path closed = mode(Files.createDirectory(tmp.resolve("closed")), "rwx------");
    Path behind = mode(Files.writeString(closed.resolve("behind.img"), "x"), "rw-r--r--");
    for (Access.Local who : new Access.Local[] {NOBODY, NO_ACCOUNT}) {
      assertThat(files.cannotRead(who, open)).isNull();
      assertThat(files.cannotRead(who, rootOnly)).isEqualTo("cannot read it (it does not exist, or that user may not read it)");
      assertThat(files.cannotRead(who, behind)).isNotNull();
      assertThat(files.cannotRead(who, tmp.resolve("missing.img"))).isEqualTo(files.cannotRead(who, rootOnly));
    }
  }

  @Test
  void qemuImg_readsAnImageAsTheUser_withoutOpeningItsBackingFile() throws Exception {
    assumeTrue(run("qemu-img", "--version") == 0, "needs qemu-img");
    Path backing = tmp.resolve("root-only.raw");
    Path top = tmp.resolve("top.qcow2");
    assertThat(run("qemu-img", "create", "-q", "-f", "raw", backing.toString(), "1M")).isZero();
    assertThat(run("qemu-img", "create", "-q", "-f", "qcow2", "-b", backing.toString(), "-F", "raw", top.toString())).isZero();
    mode(backing, "rw-------");
    mode(top, "rw-r--r--");
    var layer = files.layer(NOBODY, top);
    assertThat(layer.format()).isEqualTo("qcow2");
    assertThat(layer.backingFile()).isEqualTo(backing.toString());
    assertThatThrownBy(() -> files.layer(NOBODY, backing)).hasMessageContaining("Permission denied");
    assertThat(files.layer(null, backing).format()).isEqualTo("raw"); // the daemon itself
  }
}
