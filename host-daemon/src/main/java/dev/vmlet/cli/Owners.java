package dev.vmlet.cli;

import dev.vmlet.proto.v1.PushFileHeader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Numeric owners for {@code vmlet cp -p}: read from local files, set on local files (as root). */
final class Owners {
  private Owners() {}

  static void copyTo(PushFileHeader.Builder h, Path p) throws IOException {
    try {
      h.setUid((Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS));
      h.setGid((Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS));
    } catch (UnsupportedOperationException e) {
      // no unix owners here
    }
  }

  static void set(Path p, int uid, int gid) {
    try {
      Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
      Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    } catch (IOException | UnsupportedOperationException e) {
      throw new CliException("cannot set the owner of " + p + " to " + uid + ":" + gid + " (" + e.getMessage()
          + "); -p needs root here");
    }
  }
}
