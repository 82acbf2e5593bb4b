package dev.vmlet.guest;

import com.google.protobuf.ByteString;
import dev.vmlet.common.files.FileModes;
import dev.vmlet.proto.v1.FileData;
import dev.vmlet.proto.v1.FileDone;
import dev.vmlet.proto.v1.FileEnd;
import dev.vmlet.proto.v1.FileInfo;
import dev.vmlet.proto.v1.FileReadStart;
import dev.vmlet.proto.v1.FileWriteStart;
import dev.vmlet.proto.v1.Frame;
import dev.vmlet.proto.v1.StreamError;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * File pushes and pulls on the agent's side. A push is written to a temporary file in the
 * destination's directory and renamed into place only after its size and SHA-256 match what the
 * host says it sent; a push that fails, or whose link goes away, leaves nothing at the destination.
 * Pushes are written on the link's reader thread and their credit goes back once written, so a
 * host cannot send faster than the guest's disk takes it; pulls run on their own thread within
 * their stream's send window.
 */
final class FileTransfers {
  private static final Logger LOG = Logger.getLogger(FileTransfers.class.getName());
  static final int CHUNK = 32 * 1024;

  private final Map<Integer, Push> pushes = new ConcurrentHashMap<>();

  private static final class Push {
    final Path target;
    final Path temp;
    final OutputStream out;
    final MessageDigest digest = sha256();
    final FileWriteStart start;
    long size;

    Push(Path target, Path temp, FileWriteStart start) throws IOException {
      this.target = target;
      this.temp = temp;
      this.start = start;
      // A resumed push continues what is in temp already; its digest covers those bytes too.
      try (InputStream kept = Files.newInputStream(temp)) {
        byte[] buf = new byte[CHUNK];
        int n;
        while ((n = kept.read(buf)) > 0) {
          digest.update(buf, 0, n);
          size += n;
        }
      }
      this.out = Files.newOutputStream(temp, java.nio.file.StandardOpenOption.APPEND);
    }
  }

  /** Handles a push frame; answers on {@code sink} when the push ends or fails. */
  void onPushFrame(Frame f, FrameSink sink) {
    int stream = f.getStreamId();
    try {
      switch (f.getBodyCase()) {
        case FILE_WRITE_START -> {
          if (f.getFileWriteStart().getDirectory()) {
            makeDirectory(stream, f.getFileWriteStart(), sink);
          } else {
            begin(stream, f.getFileWriteStart(), sink);
          }
        }
        case FILE_DATA -> {
          Push p = pushes.get(stream);
          if (p == null) {
            return; // a push that already failed; its error was sent
          }
          byte[] data = f.getFileData().getData().toByteArray();
          p.out.write(data);
          p.digest.update(data);
          p.size += data.length;
        }
        case FILE_END -> finish(stream, f.getFileEnd(), sink);
        default -> throw new IllegalArgumentException(f.getBodyCase().toString());
      }
    } catch (IOException | RuntimeException e) {
      abort(stream);
      send(sink, error(stream, e));
    }
  }

  /** Whether a push is still open on the stream (it has not failed or finished). */
  boolean isOpen(int stream) {
    return pushes.containsKey(stream);
  }

  private static void makeDirectory(int stream, FileWriteStart start, FrameSink sink) throws IOException {
    Path dir = absolute(start.getPath());
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new IOException(dir + " exists and is not a directory");
    }
    Files.createDirectories(dir);
    if (start.getMode() != 0) {
      try {
        Files.setPosixFilePermissions(dir, FileModes.permissions(start.getMode()));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system (Windows)
      }
    }
    setOwner(dir, start);
    send(sink, Frame.newBuilder().setStreamId(stream).setFileDone(FileDone.getDefaultInstance()).build());
  }

  /** The owner the host asked for; changing it needs root, and a refusal says so. */
  private static void setOwner(Path p, FileWriteStart start) throws IOException {
    try {
      if (start.hasUid()) {
        Files.setAttribute(p, "unix:uid", start.getUid(), java.nio.file.LinkOption.NOFOLLOW_LINKS);
      }
      if (start.hasGid()) {
        Files.setAttribute(p, "unix:gid", start.getGid(), java.nio.file.LinkOption.NOFOLLOW_LINKS);
      }
    } catch (java.nio.file.FileSystemException e) {
      throw new java.nio.file.AccessDeniedException(p.toString(), null, "cannot set its owner to " + start.getUid() + ":" + start.getGid()
          + " (the agent must run as root)");
    } catch (UnsupportedOperationException e) {
      // no unix owners here (Windows)
    }
  }

  /** uid and gid of a file, 0 where the file system has none. */
  static int[] owner(Path p) {
    try {
      return new int[] {(Integer) Files.getAttribute(p, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS),
          (Integer) Files.getAttribute(p, "unix:gid", java.nio.file.LinkOption.NOFOLLOW_LINKS)};
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return new int[] {0, 0};
    }
  }

  /**
   * Lists the tree under a directory, parents before children, in frames of at most 256 entries,
   * each charged to the stream's window by its encoded size; then DirEnd. Symbolic links are
   * reported, not followed.
   */
  static void list(int stream, dev.vmlet.proto.v1.DirListRequest req, FrameSink sink, dev.vmlet.common.flow.SendWindow window) {
    try {
      Path root = absolute(req.getPath());
      if (!Files.isDirectory(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        throw Files.exists(root) ? new IOException(root + " is not a directory") : new java.nio.file.NoSuchFileException(root.toString());
      }
      var batch = dev.vmlet.proto.v1.DirEntries.newBuilder();
      long count = 0;
      try (var walk = Files.walk(root)) {
        for (Path p : (Iterable<Path>) walk.skip(1)::iterator) {
          batch.addEntries(entry(root, p));
          count++;
          if (batch.getEntriesCount() == 256) {
            sendEntries(stream, batch, sink, window);
          }
        }
      } catch (java.io.UncheckedIOException e) {
        throw e.getCause();
      }
      if (batch.getEntriesCount() > 0) {
        sendEntries(stream, batch, sink, window);
      }
      sink.send(Frame.newBuilder().setStreamId(stream).setDirEnd(dev.vmlet.proto.v1.DirEnd.newBuilder().setCount(count)).build());
    } catch (IOException | RuntimeException e) {
      send(sink, error(stream, e));
    }
  }

  private static void sendEntries(int stream, dev.vmlet.proto.v1.DirEntries.Builder batch, FrameSink sink,
      dev.vmlet.common.flow.SendWindow window) throws IOException {
    Frame f = Frame.newBuilder().setStreamId(stream).setDirEntries(batch).build();
    window.acquire(f.getSerializedSize());
    sink.send(f);
    batch.clear();
  }

  private static dev.vmlet.proto.v1.DirEntry entry(Path root, Path p) throws IOException {
    var attrs = Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
    var e = dev.vmlet.proto.v1.DirEntry.newBuilder()
        .setPath(root.relativize(p).toString().replace(java.io.File.separatorChar, '/'))
        .setMtimeUnixMs(attrs.lastModifiedTime().toMillis());
    if (attrs.isSymbolicLink()) {
      e.setType(dev.vmlet.proto.v1.DirEntry.Type.SYMLINK).setLinkTarget(Files.readSymbolicLink(p).toString());
    } else if (attrs.isDirectory()) {
      e.setType(dev.vmlet.proto.v1.DirEntry.Type.DIRECTORY);
    } else if (attrs.isRegularFile()) {
      e.setType(dev.vmlet.proto.v1.DirEntry.Type.FILE).setSize(attrs.size());
    } else {
      e.setType(dev.vmlet.proto.v1.DirEntry.Type.OTHER);
    }
    int[] owner = owner(p);
    e.setUid(owner[0]).setGid(owner[1]);
    try {
      e.setMode(FileModes.bits(Files.getPosixFilePermissions(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)));
    } catch (UnsupportedOperationException ignored) {
      // not POSIX
    }
    return e.build();
  }

  private void begin(int stream, FileWriteStart start, FrameSink sink) throws IOException {
    Path target = absolute(start.getPath());
    Path dir = target.getParent();
    if (dir != null && start.getMkdirs()) {
      Files.createDirectories(dir);
    }
    if (dir == null || !Files.isDirectory(dir)) {
      throw new java.nio.file.NoSuchFileException(target.toString(), null, "its directory does not exist (push with mkdirs to create it)");
    }
    if (Files.isDirectory(target)) {
      throw new IOException(target + " is a directory");
    }
    if (start.getAppend() && start.getResume()) {
      throw new IllegalArgumentException("a push cannot both append and resume");
    }
    Path temp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".vmlet-part");
    Path kept = resumeFile(target);
    if (start.getResume() && Files.isRegularFile(kept, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      Files.move(kept, temp, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE); // claimed by this push
    } else {
      Files.deleteIfExists(kept); // a new push supersedes what an interrupted one left
    }
    Push p = new Push(target, temp, start);
    pushes.put(stream, p);
    if (start.getResume()) {
      send(sink, Frame.newBuilder().setStreamId(stream).setFileOffset(dev.vmlet.proto.v1.FileOffset.newBuilder().setOffset(p.size))
          .build());
    }
  }

  /** Where an interrupted push to {@code target} keeps its data for a resume: hidden, next to it. */
  static Path resumeFile(Path target) {
    return target.resolveSibling("." + target.getFileName() + ".vmlet-resume");
  }

  private void finish(int stream, FileEnd end, FrameSink sink) throws IOException {
    Push p = pushes.remove(stream);
    if (p == null) {
      return;
    }
    try {
      p.out.close();
      String sha = HexFormat.of().formatHex(p.digest.digest());
      if (p.size != end.getSize() || !sha.equals(end.getSha256())) {
        throw new IOException("the data that arrived (" + p.size + " bytes, sha256 " + sha + ") is not what was sent ("
            + end.getSize() + " bytes, sha256 " + end.getSha256() + "); nothing was written to " + p.target);
      }
      if (p.start.getAppend() && Files.exists(p.target)) {
        appendTo(p.temp, p.target);
        send(sink, Frame.newBuilder().setStreamId(stream).setFileDone(FileDone.newBuilder().setSize(p.size).setSha256(sha)).build());
        return;
      }
      int mode = p.start.getMode() == 0 ? 0644 : p.start.getMode();
      try {
        Files.setPosixFilePermissions(p.temp, FileModes.permissions(mode));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system (Windows): the mode does not apply
      }
      setOwner(p.temp, p.start);
      if (p.start.getMtimeUnixMs() != 0) {
        Files.setLastModifiedTime(p.temp, FileTime.fromMillis(p.start.getMtimeUnixMs()));
      }
      Files.move(p.temp, p.target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      send(sink, Frame.newBuilder().setStreamId(stream).setFileDone(FileDone.newBuilder().setSize(p.size).setSha256(sha)).build());
    } finally {
      Files.deleteIfExists(p.temp);
    }
  }

  /** An append: the checked data goes onto the end of the existing file in one go. */
  private static void appendTo(Path data, Path target) throws IOException {
    try (java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(data);
        java.nio.channels.FileChannel out = java.nio.channels.FileChannel.open(target,
            java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.APPEND)) {
      long size = in.size();
      long done = 0;
      while (done < size) {
        done += in.transferTo(done, size - done, out);
      }
    }
  }

  /** Drops an unfinished push, deleting its temporary file. */
  void abort(int stream) {
    Push p = pushes.remove(stream);
    if (p != null) {
      try {
        p.out.close();
        Files.deleteIfExists(p.temp);
      } catch (IOException e) {
        LOG.warning("cannot remove " + p.temp + ": " + e.getMessage());
      }
    }
  }

  /**
   * The session went away: nothing appears at any unfinished push's destination; what arrived is
   * kept hidden next to it ({@link #resumeFile}) for a push with resume to continue.
   */
  void abortAll() {
    for (Integer stream : pushes.keySet()) {
      Push p = pushes.remove(stream);
      if (p == null) {
        continue;
      }
      try {
        p.out.close();
        Files.move(p.temp, resumeFile(p.target), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException e) {
        LOG.warning("cannot keep " + p.temp + " for a resume: " + e.getMessage());
        try {
          Files.deleteIfExists(p.temp);
        } catch (IOException ignored) {
          // nothing more to do
        }
      }
    }
  }

  /**
   * Sends a file: FileInfo, its data in chunks within the stream's send window, FileDone; or a
   * StreamError. Blocking: run off the reader thread.
   */
  static void pull(int stream, FileReadStart req, FrameSink sink, dev.vmlet.common.flow.SendWindow window) {
    try {
      Path file = absolute(req.getPath());
      if (!Files.exists(file)) {
        throw new java.nio.file.NoSuchFileException(file.toString());
      }
      if (!Files.isRegularFile(file)) {
        throw new IOException(file + " is not a regular file");
      }
      int mode;
      try {
        mode = FileModes.bits(Files.getPosixFilePermissions(file));
      } catch (UnsupportedOperationException e) {
        mode = 0644;
      }
      int[] owner = owner(file);
      sink.send(Frame.newBuilder().setStreamId(stream).setFileInfo(FileInfo.newBuilder().setSize(Files.size(file))
          .setMode(mode).setMtimeUnixMs(Files.getLastModifiedTime(file).toMillis()).setUid(owner[0]).setGid(owner[1])).build());
      MessageDigest digest = sha256();
      long size = 0;
      byte[] buf = new byte[CHUNK];
      try (InputStream in = Files.newInputStream(file)) {
        // Resuming: the host has the first `offset` bytes; they count in the digest, unsent.
        while (size < req.getOffset()) {
          int n = in.readNBytes(buf, 0, (int) Math.min(buf.length, req.getOffset() - size));
          if (n <= 0) {
            throw new IllegalArgumentException("offset " + req.getOffset() + " is past the end of " + file + " (" + size + " bytes)");
          }
          digest.update(buf, 0, n);
          size += n;
        }
        int n;
        while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
          digest.update(buf, 0, n);
          size += n;
          window.acquire(n);
          sink.send(Frame.newBuilder().setStreamId(stream)
              .setFileData(FileData.newBuilder().setData(ByteString.copyFrom(buf, 0, n))).build());
        }
      }
      sink.send(Frame.newBuilder().setStreamId(stream)
          .setFileDone(FileDone.newBuilder().setSize(size).setSha256(HexFormat.of().formatHex(digest.digest()))).build());
    } catch (IOException | RuntimeException e) {
      send(sink, error(stream, e));
    }
  }

  static Frame error(int stream, Exception e) {
    StreamError.Code code = e instanceof java.nio.file.NoSuchFileException ? StreamError.Code.NOT_FOUND
        : e instanceof java.nio.file.AccessDeniedException ? StreamError.Code.PERMISSION_DENIED
        : e instanceof IllegalArgumentException ? StreamError.Code.INVALID_ARGUMENT
        : StreamError.Code.FAILED_PRECONDITION;
    return Frame.newBuilder().setStreamId(stream).setError(StreamError.newBuilder().setCode(code).setMessage(describe(e))).build();
  }

  static Path absolute(String path) {
    Path p = Path.of(path);
    if (!p.isAbsolute()) {
      throw new IllegalArgumentException("the guest path must be absolute, got '" + path + "'");
    }
    return p.normalize();
  }

  private static String describe(Exception e) {
    if (e instanceof java.nio.file.NoSuchFileException n) {
      return n.getFile() + (n.getReason() == null ? " does not exist" : ": " + n.getReason());
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied: " + e.getMessage();
    }
    return e.getMessage() == null ? e.toString() : e.getMessage();
  }

  private static void send(FrameSink sink, Frame f) {
    try {
      sink.send(f);
    } catch (IOException e) {
      LOG.fine("cannot answer on stream " + f.getStreamId() + ": " + e.getMessage());
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
