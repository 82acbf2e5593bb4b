package dev.vmlet.guest;

import dev.vmlet.common.files.FileModes;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.DirEnd;
import dev.vmlet.proto.agent.v1.DirEntries;
import dev.vmlet.proto.agent.v1.DirEntry;
import dev.vmlet.proto.agent.v1.DirListRequest;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Directory listings on the agent's side (what {@code vmlet cp -r} builds on): the tree under a
 * directory, parents before children, in frames of at most 256 entries, each charged to the
 * stream's window by its encoded size; then DirEnd with the count, or one StreamError. Symbolic
 * links are reported, not followed.
 */
final class DirListings {
  private static final int ENTRIES_PER_FRAME = 256;

  private DirListings() {}

  /** Lists the tree. Blocking: run off the reader thread. */
  static void list(int stream, DirListRequest req, FrameSink sink, SendWindow window) {
    try {
      Path root = GuestFiles.absolute(req.getPath());
      if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
        throw Files.exists(root) ? new IOException(root + " is not a directory") : new NoSuchFileException(root.toString());
      }
      var batch = DirEntries.newBuilder();
      long count = 0;
      try (var walk = Files.walk(root)) {
        for (Path p : (Iterable<Path>) walk.skip(1)::iterator) {
          batch.addEntries(entry(root, p));
          count++;
          if (batch.getEntriesCount() == ENTRIES_PER_FRAME) {
            sendEntries(stream, batch, sink, window);
          }
        }
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
      if (batch.getEntriesCount() > 0) {
        sendEntries(stream, batch, sink, window);
      }
      sink.send(Frame.newBuilder().setStreamId(stream).setDirEnd(DirEnd.newBuilder().setCount(count)).build());
    } catch (IOException | RuntimeException e) {
      sink.sendOrLog(GuestFiles.error(stream, e));
    }
  }

  private static void sendEntries(int stream, DirEntries.Builder batch, FrameSink sink, SendWindow window) throws IOException {
    Frame f = Frame.newBuilder().setStreamId(stream).setDirEntries(batch).build();
    window.acquire(f.getSerializedSize());
    sink.send(f);
    batch.clear();
  }

  private static DirEntry entry(Path root, Path p) throws IOException {
    var attrs = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    var e = DirEntry.newBuilder()
        .setPath(root.relativize(p).toString().replace(File.separatorChar, '/'))
        .setMtimeUnixMs(attrs.lastModifiedTime().toMillis());
    if (attrs.isSymbolicLink()) {
      e.setType(DirEntry.Type.SYMLINK).setLinkTarget(Files.readSymbolicLink(p).toString());
    } else if (attrs.isDirectory()) {
      e.setType(DirEntry.Type.DIRECTORY);
    } else if (attrs.isRegularFile()) {
      e.setType(DirEntry.Type.FILE).setSize(attrs.size());
    } else {
      e.setType(DirEntry.Type.OTHER);
    }
    int[] owner = GuestFiles.owner(p);
    e.setUid(owner[0]).setGid(owner[1]);
    try {
      e.setMode(FileModes.bits(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)));
    } catch (UnsupportedOperationException ignored) {
      // not POSIX
    }
    return e.build();
  }
}
