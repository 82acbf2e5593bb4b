package dev.vmlet.cli;

import dev.vmlet.common.files.FileModes;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.FileClient;
import dev.vmlet.proto.v1.DirEntry;
import dev.vmlet.proto.v1.ListFilesRequest;
import dev.vmlet.proto.v1.PushFileHeader;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.io.File;

/**
 * {@code vmlet cp -r}: a directory tree file by file, each file checked end to end like a single
 * copy. Directories keep their modes; symbolic links are recreated on the way out of a guest and
 * skipped (with a note) on the way in, since the agent does not create links.
 */
final class TreeCopy {
  private TreeCopy() {}

  /** Pushes {@code local} to {@code guestPath}; returns files, bytes, directories. */
  static long[] push(DaemonClient c, Path local, String vm, String guestPath, boolean preserveOwner) throws Exception {
    if (!Files.isDirectory(local)) {
      throw new CliException(local + " is not a directory (drop -r to copy a file)");
    }
    long[] n = new long[3];
    List<Path> all;
    try (Stream<Path> walk = Files.walk(local)) {
      all = walk.toList(); // parents before children
    }
    for (Path p : all) {
      String rel = local.relativize(p).toString().replace(File.separatorChar, '/');
      String target = rel.isEmpty() ? guestPath : guestPath.replaceAll("/+$", "") + "/" + rel;
      PushFileHeader.Builder h = PushFileHeader.newBuilder().setName(vm).setPath(target);
      try {
        h.setMode(FileModes.bits(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)));
      } catch (UnsupportedOperationException e) {
        // no POSIX modes here
      }
      if (preserveOwner) {
        Owners.copyTo(h, p);
      }
      if (Files.isSymbolicLink(p)) {
        System.err.println("skipped symbolic link " + p + " (the agent does not create links)");
      } else if (Files.isDirectory(p)) {
        FileClient.push(c, h.setDirectory(true).setMkdirs(true).build(), InputStream.nullInputStream(), null, -1);
        n[2]++;
      } else if (Files.isRegularFile(p)) {
        h.setMtimeUnixMs(Files.getLastModifiedTime(p).toMillis());
        try (InputStream in = Files.newInputStream(p)) {
          n[1] += FileClient.push(c, h.build(), in, null, -1).getSize();
        }
        n[0]++;
      }
    }
    return n;
  }

  /** Pulls the tree under {@code guestPath} into {@code local}; returns files, bytes, directories. */
  static long[] pull(DaemonClient c, String vm, String guestPath, Path local, boolean preserveOwner) throws Exception {
    List<DirEntry> entries = c.vms().withDeadlineAfter(5, TimeUnit.MINUTES)
        .listFiles(ListFilesRequest.newBuilder().setName(vm).setPath(guestPath).build()).getEntriesList();
    long[] n = new long[3];
    Files.createDirectories(local);
    n[2]++;
    for (DirEntry e : entries) {
      Path target = inside(local, e.getPath());
      switch (e.getType()) {
        case TYPE_DIRECTORY -> {
          Files.createDirectories(target);
          setMode(target, e.getMode());
          if (preserveOwner) {
            Owners.set(target, e.getUid(), e.getGid());
          }
          n[2]++;
        }
        case TYPE_FILE -> {
          n[1] += CpCommand.pull(c, new CpCommand.Remote(vm, guestPath.replaceAll("/+$", "") + "/" + e.getPath()), target.toString(),
              preserveOwner).getSize();
          n[0]++;
        }
        case TYPE_SYMLINK -> {
          Files.deleteIfExists(target);
          Files.createSymbolicLink(target, Path.of(e.getLinkTarget()));
        }
        default -> System.err.println("skipped " + e.getPath() + " (not a file, directory or link)");
      }
    }
    // Directory mtimes last: filling a directory changes its mtime.
    for (DirEntry e : entries) {
      if (e.getType() == DirEntry.Type.TYPE_DIRECTORY) {
        Files.setLastModifiedTime(local.resolve(e.getPath()), FileTime.fromMillis(e.getMtimeUnixMs()));
      }
    }
    return n;
  }

  /**
   * Where a guest's entry goes under {@code local}: never outside it, neither by '..' nor through a
   * symbolic link the guest listed earlier (a link "a" to /etc, then a file "a/passwd"). The guest
   * chooses names, never places on the host.
   */
  static Path inside(Path local, String guestRelative) throws IOException {
    Path root = local.toRealPath();
    Path target = local.resolve(guestRelative).normalize();
    if (!target.startsWith(local.normalize()) || target.equals(local.normalize())) {
      throw new CliException("the guest listed '" + guestRelative + "', which is outside " + local + "; stopped");
    }
    Path existing = target.getParent();
    while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
      existing = existing.getParent();
    }
    if (existing == null || !existing.toRealPath().startsWith(root)) {
      throw new CliException("the guest listed '" + guestRelative + "', which goes through a symbolic link out of " + local
          + "; stopped");
    }
    return target;
  }

  private static void setMode(Path p, int mode) throws IOException {
    if (mode == 0) {
      return;
    }
    try {
      Files.setPosixFilePermissions(p, FileModes.permissions(mode));
    } catch (UnsupportedOperationException e) {
      // no POSIX modes here
    }
  }
}
