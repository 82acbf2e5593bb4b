package dev.vmlet.vm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;

/** A VM's agent token: 32 random bytes, made once per VM, readable by the daemon's user only. */
final class AgentToken {
  private AgentToken() {}

  static void ensure(Path file) throws IOException {
    if (Files.isRegularFile(file) && Files.size(file) == 32) {
      return;
    }
    byte[] token = new byte[32];
    new SecureRandom().nextBytes(token);
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.write(tmp, token);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
