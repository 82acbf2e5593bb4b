package dev.vmlet.security;

import dev.vmlet.disk.QemuImg;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * Host files as a local user sees them. The kernel decides, not the daemon: both operations run a
 * short, bounded process as that user ({@link UserFiles}), so permission bits, ACLs, the user's
 * groups and every directory on the way count exactly as they would for the user's own program.
 */
interface HostFiles {
  /**
   * Why {@code who} may not read {@code file}, or null when it may. A file that does not exist is
   * unreadable too, in the same words: the answer must not tell the caller more than it could find out.
   */
  String cannotRead(Access.Local who, Path file);

  /**
   * One file of a disk image as qemu-img reads it: as {@code who}, or as the daemon when null.
   *
   * @throws IOException qemu-img's own words when it cannot read it
   */
  QemuImg.Layer layer(Access.Local who, Path image) throws IOException;

  /** The user's gid and supplementary groups, as a login of that user would hold them. */
  Set<Integer> groups(Access.Local who);
}
