package dev.vmlet.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;

/** Capability checks for tests that need real QEMU; a missing capability skips with the reason. */
final class Qemu {
  static final String BINARY = "qemu-system-x86_64";

  private Qemu() {}

  static void assumeInstalled() {
    boolean ok;
    try {
      Process p = new ProcessBuilder(BINARY, "--version").redirectErrorStream(true).start();
      ok = p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      ok = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      ok = false;
    }
    assumeTrue(ok, BINARY + " is not installed (apt-get install qemu-system-x86); ./scripts/test installs it");
  }

  /**
   * Lets QEMU's unprivileged user (a root daemon's QEMU runs as vmlet-qemu) through the directories
   * above a test's directory: JUnit makes its temporary directories 0700. Adds only o+x, no listing.
   *
   * @return dir
   */
  static Path reachable(Path dir) throws IOException {
    Files.createDirectories(dir);
    for (Path p = dir.toRealPath(); p != null; p = p.getParent()) {
      var perms = Files.getPosixFilePermissions(p);
      if (perms.add(PosixFilePermission.OTHERS_EXECUTE)) {
        Files.setPosixFilePermissions(p, perms);
      }
    }
    return dir;
  }
}
