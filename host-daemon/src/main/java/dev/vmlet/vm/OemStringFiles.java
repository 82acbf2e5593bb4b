package dev.vmlet.vm;

import dev.vmlet.fs.FileTrees;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.spec.GuestSettings;
import dev.vmlet.spec.VmConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the SMBIOS OEM strings of a VM (its credentials and proxy) to 0600 files that QEMU reads
 * with {@code -smbios type=11,path=FILE}, so no secret is on QEMU's command line. Rewritten at every
 * start from the config; a VM without any has no such files.
 */
final class OemStringFiles {
  private OemStringFiles() {}

  /** @return the files written, in order (what QEMU's user must be able to read) */
  static List<Path> write(VmConfig config, VmFiles files) throws IOException {
    List<String> strings = GuestSettings.oemStrings(config);
    Path dir = files.oemString(0).getParent();
    FileTrees.deleteTree(dir); // no string of an earlier config may linger
    List<Path> written = new ArrayList<>();
    if (strings.isEmpty()) {
      return written;
    }
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    for (int i = 0; i < strings.size(); i++) {
      Path file = files.oemString(i);
      Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      // QEMU takes the file's bytes as the string: no newline at the end.
      Files.writeString(tmp, strings.get(i), StandardCharsets.US_ASCII);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
      written.add(file);
    }
    return written;
  }
}
