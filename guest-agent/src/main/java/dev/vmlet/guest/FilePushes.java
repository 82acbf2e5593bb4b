package dev.vmlet.guest;

import com.google.protobuf.ByteString;
import dev.vmlet.common.files.FileModes;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileEnd;
import dev.vmlet.proto.agent.v1.FileOffset;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * File pushes (and mkdir) on the agent's side. A push is written to a temporary file in the
 * destination's directory and renamed into place only after its size and SHA-256 match what the
 * host says it sent; a push that fails, or whose link goes away, leaves nothing at the destination.
 * Each failure is answered with one StreamError and ends the push.
 *
 * <p>A push's data is written to its file and its digest on a writer (one task at a time per push,
 * in arrival order), not on the link's reader thread: under TCG the guest's CPU is the limit of a
 * transfer, and the reader's part (the port, the frame's checksum, parsing) and the writer's
 * (the file, SHA-256) then run on the guest's two vCPUs at once. Credit goes back only once the
 * writer has taken a chunk ({@link PushFile}: into the file, or into the push's O_DIRECT buffer of
 * 256 KiB, written when full), so a host cannot send faster than the guest's disk takes it, and
 * what waits for the writer is bounded by the stream's window (256 KiB).
 */
final class FilePushes {
  private static final Logger LOG = Logger.getLogger(FilePushes.class.getName());

  /** How long a push's writer waits for its next chunk before it gives its thread back. */
  static final long LINGER_MS = 50;

  private final Map<Integer, Push> pushes = new ConcurrentHashMap<>();
  /** Null: each chunk is written on the thread that received it. */
  private final Executor writers;

  private FilePushes(Executor writers) {
    this.writers = writers;
  }

  /**
   * Pushes written on {@code writers}, a pool's threads (a writer waits up to {@value #LINGER_MS}
   * ms for its next chunk before it gives its thread back).
   */
  static FilePushes onWriters(Executor writers) {
    return new FilePushes(writers);
  }

  /**
   * Pushes written on the thread that receives them, as before the writers: for a guest with one
   * vCPU, where a second thread would only add a hand-off per chunk.
   */
  static FilePushes inline() {
    return new FilePushes(null);
  }

  /** Writers for a guest with {@code cpus} vCPUs: the pool's with two or more, inline with one. */
  static FilePushes forCpus(int cpus, Executor pool) {
    return cpus > 1 ? onWriters(pool) : inline();
  }

  private static final class Push {
    final int stream;
    final Path target;
    final Path temp;
    final FrameSink sink;
    /** Runs once when the push fails on its writer (the stream ends). */
    final Runnable onFailure;
    final MessageDigest digest = GuestFiles.sha256();
    /** The steps the writer has yet to run, in arrival order; guarded by itself. */
    final ArrayDeque<Step> queue = new ArrayDeque<>();
    /** Whether a writer task is running or submitted for this push; guarded by {@link #queue}. */
    boolean draining;
    /**
     * Held while a step writes, and by whoever ends the push from outside: an abort waits for the
     * chunk being written, and no step writes after it.
     */
    final Object writing = new Object();
    /** Finished, failed or aborted: no more steps run; set holding {@link #writing}. */
    volatile boolean ended;
    /** The file and the digest; a resumed push's file holds what an earlier one kept, digested already. */
    final PushFile file;
    final FileWriteStart start;

    Push(int stream, Path target, Path temp, FileWriteStart start, FrameSink sink, Runnable onFailure) throws IOException {
      this.stream = stream;
      this.sink = sink;
      this.onFailure = onFailure;
      this.target = target;
      this.temp = temp;
      this.start = start;
      this.file = PushFile.open(temp, digest, PushFile.DIRECT);
    }
  }

  /** A step of a push that may fail; a failure ends the push. */
  private interface Step {
    void run() throws IOException;
  }

  /**
   * FileWriteStart: opens a push (answering FileOffset when it resumes), or makes a directory.
   *
   * @param onFailure runs when the push fails later, on its writer (the caller then ends the stream)
   */
  void start(int stream, FileWriteStart start, FrameSink sink, Runnable onFailure) {
    guarded(stream, sink, () -> {
      if (start.getDirectory()) {
        makeDirectory(stream, start, sink);
      } else {
        begin(stream, start, sink, onFailure);
      }
    });
  }

  /**
   * FileData: appends to the push's temporary file, on its writer; data for a push that already
   * failed is dropped.
   *
   * @param written told how many bytes are in the file and the digest, once they are
   */
  void data(int stream, ByteString data, IntConsumer written) {
    Push p = pushes.get(stream);
    if (p == null) {
      return; // a push that already failed; its error was sent
    }
    // The frame's own bytes (the decoder aliases them, and the frame is never reused): the writer
    // needs no copy, and the stream's window bounds how many wait for it.
    enqueue(p, () -> {
      p.file.write(data);
      written.accept(data.size());
    });
  }

  /** FileEnd: after the data before it, checks size and digest, puts the file in place and answers FileDone. */
  void end(int stream, FileEnd end) {
    Push p = pushes.get(stream);
    if (p != null) {
      enqueue(p, () -> finish(p, end));
    }
  }

  /** Queues a step of the push; starts a writer task unless one is running for it. */
  private void enqueue(Push p, Step step) {
    synchronized (p.queue) {
      p.queue.add(step);
      if (p.draining) {
        p.queue.notify(); // a writer lingering for the next chunk
        return;
      }
      p.draining = true;
    }
    if (writers == null) {
      drainSteps(p, false);
    } else {
      writers.execute(() -> drain(p));
    }
  }

  /** Runs the push's queued steps in order until none is left; a failure ends the push. */
  private void drain(Push p) {
    Thread t = Thread.currentThread();
    String name = t.getName();
    t.setName("push-writer"); // for per-thread profiles (the guest's /proc/PID/task/*/comm)
    try {
      drainSteps(p, true);
    } finally {
      t.setName(name);
    }
  }

  private void drainSteps(Push p, boolean linger) {
    while (true) {
      Step step;
      synchronized (p.queue) {
        step = p.queue.poll();
        if (step == null && linger && !p.ended) {
          // The next chunk is usually on its way: a writer that waits a little for it is woken
          // instead of a new task handed to the pool for each chunk (under TCG a thread's start,
          // or a pool's hand-off that misses an idle thread, costs more than the wait).
          try {
            p.queue.wait(LINGER_MS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the agent is closing
          }
          step = Thread.currentThread().isInterrupted() ? null : p.queue.poll();
        }
        if (step == null) {
          p.draining = false;
          return;
        }
      }
      synchronized (p.writing) {
        if (p.ended) {
          continue; // aborted from outside meanwhile: the rest is dropped unwritten
        }
        try {
          step.run();
        } catch (IOException | RuntimeException e) {
          p.ended = true;
          pushes.remove(p.stream, p);
          closeAndDelete(p);
          p.sink.sendOrLog(GuestFiles.error(p.stream, e));
          p.onFailure.run();
        }
      }
    }
  }

  private void guarded(int stream, FrameSink sink, Step step) {
    try {
      step.run();
    } catch (IOException | RuntimeException e) {
      abort(stream);
      sink.sendOrLog(GuestFiles.error(stream, e));
    }
  }

  /** Whether a push is still open on the stream (it has not failed or finished). */
  boolean isOpen(int stream) {
    return pushes.containsKey(stream);
  }

  private static void makeDirectory(int stream, FileWriteStart start, FrameSink sink) throws IOException {
    Path dir = GuestFiles.absolute(start.getPath());
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
    sink.sendOrLog(Frame.newBuilder().setStreamId(stream).setFileDone(FileDone.getDefaultInstance()).build());
  }

  /** The owner the host asked for; changing it needs root, and a refusal says so. */
  private static void setOwner(Path p, FileWriteStart start) throws IOException {
    try {
      if (start.hasUid()) {
        Files.setAttribute(p, "unix:uid", start.getUid(), LinkOption.NOFOLLOW_LINKS);
      }
      if (start.hasGid()) {
        Files.setAttribute(p, "unix:gid", start.getGid(), LinkOption.NOFOLLOW_LINKS);
      }
    } catch (FileSystemException e) {
      throw new AccessDeniedException(p.toString(), null, "cannot set its owner to " + start.getUid() + ":" + start.getGid()
          + " (the agent must run as root)");
    } catch (UnsupportedOperationException e) {
      // no unix owners here (Windows)
    }
  }

  private void begin(int stream, FileWriteStart start, FrameSink sink, Runnable onFailure) throws IOException {
    Path target = GuestFiles.absolute(start.getPath());
    Path dir = target.getParent();
    if (dir != null && start.getMkdirs()) {
      Files.createDirectories(dir);
    }
    if (dir == null || !Files.isDirectory(dir)) {
      throw new NoSuchFileException(target.toString(), null, "its directory does not exist (push with mkdirs to create it)");
    }
    if (Files.isDirectory(target)) {
      throw new IOException(target + " is a directory");
    }
    if (start.getAppend() && start.getResume()) {
      throw new IllegalArgumentException("a push cannot both append and resume");
    }
    Path temp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".vmlet-part");
    Path kept = resumeFile(target);
    if (start.getResume() && Files.isRegularFile(kept, LinkOption.NOFOLLOW_LINKS)) {
      Files.move(kept, temp, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE); // claimed by this push
    } else {
      Files.deleteIfExists(kept); // a new push supersedes what an interrupted one left
    }
    Push p = new Push(stream, target, temp, start, sink, onFailure);
    pushes.put(stream, p);
    if (start.getResume()) {
      sink.sendOrLog(Frame.newBuilder().setStreamId(stream).setFileOffset(FileOffset.newBuilder().setOffset(p.file.size())).build());
    }
  }

  /** Where an interrupted push to {@code target} keeps its data for a resume: hidden, next to it. */
  static Path resumeFile(Path target) {
    return target.resolveSibling("." + target.getFileName() + ".vmlet-resume");
  }

  /** On the push's writer, holding {@link Push#writing}. */
  private void finish(Push p, FileEnd end) throws IOException {
    p.ended = true;
    pushes.remove(p.stream, p);
    int stream = p.stream;
    FrameSink sink = p.sink;
    try {
      p.file.complete();
      String sha = HexFormat.of().formatHex(p.digest.digest());
      long size = p.file.size();
      if (size != end.getSize() || !sha.equals(end.getSha256())) {
        throw new IOException("the data that arrived (" + size + " bytes, sha256 " + sha + ") is not what was sent ("
            + end.getSize() + " bytes, sha256 " + end.getSha256() + "); nothing was written to " + p.target);
      }
      if (p.start.getAppend() && Files.exists(p.target)) {
        appendTo(p.temp, p.target);
        sink.sendOrLog(Frame.newBuilder().setStreamId(stream).setFileDone(FileDone.newBuilder().setSize(size).setSha256(sha)).build());
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
      sink.sendOrLog(Frame.newBuilder().setStreamId(stream).setFileDone(FileDone.newBuilder().setSize(size).setSha256(sha)).build());
    } finally {
      Files.deleteIfExists(p.temp);
    }
  }

  /** An append: the checked data goes onto the end of the existing file in one go. */
  private static void appendTo(Path data, Path target) throws IOException {
    try (FileChannel in = FileChannel.open(data);
        FileChannel out = FileChannel.open(target, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      long size = in.size();
      long done = 0;
      while (done < size) {
        done += in.transferTo(done, size - done, out);
      }
    }
  }

  /** Drops an unfinished push, deleting its temporary file (after the chunk being written, if any). */
  void abort(int stream) {
    Push p = pushes.remove(stream);
    if (p != null) {
      synchronized (p.writing) {
        if (!p.ended) {
          p.ended = true;
          closeAndDelete(p);
        }
      }
    }
  }

  private static void closeAndDelete(Push p) {
    try {
      p.file.close();
    } catch (IOException e) {
      LOG.fine("closing " + p.temp + ": " + e.getMessage()); // it is deleted next either way
    }
    try {
      Files.deleteIfExists(p.temp);
    } catch (IOException e) {
      LOG.warning("cannot remove " + p.temp + ": " + e.getMessage());
    }
  }

  /**
   * The session went away: nothing appears at any unfinished push's destination; what arrived is
   * kept hidden next to it ({@link #resumeFile}) for a push with resume to continue. This takes
   * every unfinished push out of the map at once; the Runnable returned ends them ({@link
   * #keepForResume}), so a push that begins after (in the next session) is not among them.
   */
  Runnable detachAll() {
    List<Push> detached = new ArrayList<>();
    for (Integer stream : pushes.keySet()) {
      Push p = pushes.remove(stream);
      if (p != null) {
        detached.add(p);
      }
    }
    return () -> keepForResume(detached);
  }

  private static void keepForResume(List<Push> detached) {
    for (Push p : detached) {
      // After the chunk being written: the kept file then holds whole chunks, and its digest on
      // resume covers exactly what it holds. Chunks still queued are dropped (the host resends them).
      synchronized (p.writing) {
        if (p.ended) {
          continue;
        }
        p.ended = true;
        try {
          p.file.complete(); // what the writer took, the part still in its buffer too
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
  }
}
