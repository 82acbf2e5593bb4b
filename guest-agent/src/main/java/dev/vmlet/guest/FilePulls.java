package dev.vmlet.guest;

import com.google.protobuf.UnsafeByteOperations;
import dev.vmlet.common.files.FileModes;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.FileData;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileInfo;
import dev.vmlet.proto.agent.v1.FileReadStart;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

/**
 * File pulls on the agent's side: FileInfo, the data in chunks within the stream's send window,
 * then FileDone with the whole file's size and SHA-256 (so the host can check it end to end, also
 * when it resumed from an offset); or one StreamError.
 *
 * <p>With two vCPUs or more, two stages, one thread each: a reader reads the file and updates the
 * digest into buffers of its own ({@link PullFile}: up to 256 KiB each, {@value #BUFFERS} of them),
 * and the pull's worker cuts each into chunks, frames them and writes them to the port within the
 * window. Under TCG the guest's CPU is what limits a pull, and the two halves of the work then run
 * on two vCPUs at once. With one vCPU the worker does both in turn.
 */
final class FilePulls {
  /** Buffers the reader may fill ahead of the port: one being sent while the next is read. */
  static final int BUFFERS = 2;

  private FilePulls() {}

  /** What the reader hands the sender: a buffer read, or the end with the whole file's size and digest. */
  private record Chunk(ByteBuffer buf, long size, String sha256) {
    boolean last() {
      return buf == null;
    }
  }

  /** Where the reading stage puts what it read. */
  private interface Chunks {
    /** A buffer to read into (cleared). */
    ByteBuffer empty() throws InterruptedException;

    /** {@code buf}, from its position to its limit, holds the next bytes to send, digested already. */
    void full(ByteBuffer buf) throws IOException, InterruptedException;

    /** The file ended: its size and SHA-256, the part before the offset included. */
    void end(long size, String sha256) throws IOException, InterruptedException;
  }

  /**
   * Sends a file. Blocking: run off the reader thread.
   *
   * @param readers runs the pull's file reading and digest (a pool's thread); null: this thread
   *     does it all in turn (a guest with one vCPU, where a second thread would only add a hand-off
   *     per chunk)
   */
  static void pull(int stream, FileReadStart req, FrameSink sink, SendWindow window, Executor readers) {
    FutureTask<Void> reader = null;
    try {
      Path file = GuestFiles.absolute(req.getPath());
      if (!Files.exists(file)) {
        throw new NoSuchFileException(file.toString());
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
      int[] owner = GuestFiles.owner(file);
      long size = Files.size(file);
      sink.send(Frame.newBuilder().setStreamId(stream).setFileInfo(FileInfo.newBuilder().setSize(size)
          .setMode(mode).setMtimeUnixMs(Files.getLastModifiedTime(file).toMillis()).setUid(owner[0]).setGid(owner[1])).build());
      if (readers == null) {
        read(file, req.getOffset(), inline(PullFile.buffer(size), new Sender(stream, sink, window)));
        return;
      }
      BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
      free.add(PullFile.buffer(size));
      if (size > PullFile.BUFFER) {
        free.add(PullFile.buffer(size)); // a second only where a file needs more than one
      }
      BlockingQueue<Chunk> ready = new ArrayBlockingQueue<>(BUFFERS + 1); // every buffer, and the end
      reader = new FutureTask<>(() -> {
        Thread t = Thread.currentThread();
        String name = t.getName();
        t.setName("pull-reader"); // for per-thread profiles (the guest's /proc/PID/task/*/comm)
        try {
          read(file, req.getOffset(), queued(free, ready));
        } finally {
          t.setName(name);
        }
        return null;
      });
      readers.execute(reader);
      Sender out = new Sender(stream, sink, window);
      while (true) {
        Chunk c = next(ready, reader);
        if (c.last()) {
          out.end(c.size(), c.sha256());
          return;
        }
        out.send(c.buf());
        c.buf().clear();
        free.add(c.buf()); // only now: the frames that wrapped it have been written
      }
    } catch (IOException | RuntimeException e) {
      sink.sendOrLog(GuestFiles.error(stream, e));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // the agent is closing
    } finally {
      if (reader != null) {
        reader.cancel(true); // ends a reader still waiting for a buffer (the window closed, the session ended)
      }
    }
  }

  /** Writes a pull's bytes to the port as FileData frames within the stream's window, then its FileDone. */
  private record Sender(int stream, FrameSink sink, SendWindow window) {
    /** {@code b}, from its position to its limit, in chunks; its position then at its limit. */
    void send(ByteBuffer b) throws IOException {
      while (b.hasRemaining()) {
        int n = Math.min(b.remaining(), GuestFiles.CHUNK);
        window.acquire(n);
        // Not copied: send encodes the frame before it returns, and b is refilled only after.
        sink.send(Frame.newBuilder().setStreamId(stream)
            .setFileData(FileData.newBuilder().setData(UnsafeByteOperations.unsafeWrap(b.slice(b.position(), n)))).build());
        b.position(b.position() + n);
      }
    }

    void end(long size, String sha256) throws IOException {
      sink.send(Frame.newBuilder().setStreamId(stream).setFileDone(FileDone.newBuilder().setSize(size).setSha256(sha256)).build());
    }
  }

  /** Chunks sent by the reading thread itself as it reads them, all read into {@code buf}. */
  private static Chunks inline(ByteBuffer buf, Sender to) {
    return new Chunks() {
      @Override
      public ByteBuffer empty() {
        return buf.clear();
      }

      @Override
      public void full(ByteBuffer b) throws IOException {
        to.send(b);
      }

      @Override
      public void end(long size, String sha256) throws IOException {
        to.end(size, sha256);
      }
    };
  }

  /** Chunks handed to the sending thread through {@code ready}, in buffers it gives back through {@code free}. */
  private static Chunks queued(BlockingQueue<ByteBuffer> free, BlockingQueue<Chunk> ready) {
    return new Chunks() {
      @Override
      public ByteBuffer empty() throws InterruptedException {
        return free.take();
      }

      @Override
      public void full(ByteBuffer buf) {
        ready.add(new Chunk(buf, 0, null));
      }

      @Override
      public void end(long size, String sha256) {
        ready.add(new Chunk(null, size, sha256));
      }
    };
  }

  /** The reader's next chunk; its failure, or a reader that ended without its last chunk, as an exception. */
  private static Chunk next(BlockingQueue<Chunk> ready, FutureTask<Void> reader) throws IOException, InterruptedException {
    while (true) {
      // Each wait is bounded by the reader's next chunk or its end; a second wakes this one in case
      // the reader ended without a last chunk (it failed, or its pool dropped it when the agent closes).
      Chunk c = ready.poll(1, TimeUnit.SECONDS);
      if (c != null) {
        return c;
      }
      if (reader.isDone()) {
        c = ready.poll();
        if (c != null) {
          return c;
        }
        try {
          reader.get();
        } catch (ExecutionException e) {
          if (e.getCause() instanceof IOException io) {
            throw io;
          }
          if (e.getCause() instanceof RuntimeException r) {
            throw r;
          }
          throw new IOException(e.getCause());
        } catch (CancellationException e) {
          throw new IOException("the pull's reader was cancelled");
        }
        throw new IOException("the pull's reader ended before the end of the file");
      }
    }
  }

  /** The reading stage: the file from the start (digested only up to {@code offset}), then the end. */
  private static void read(Path file, long offset, Chunks out) throws IOException, InterruptedException {
    MessageDigest digest = GuestFiles.sha256();
    long size = 0;
    try (PullFile in = PullFile.open(file)) {
      ByteBuffer buf = out.empty();
      int n;
      while ((n = in.read(buf)) > 0) {
        buf.flip();
        digest.update(buf.duplicate()); // a direct buffer: libcrypto reads it where it is
        long from = size;
        size += n;
        if (size <= offset) {
          buf.clear(); // resuming: the host has these bytes; they count in the digest, unsent
          continue;
        }
        buf.position((int) Math.max(0, offset - from));
        out.full(buf);
        buf = out.empty();
      }
    }
    if (size < offset) {
      throw new IllegalArgumentException("offset " + offset + " is past the end of " + file + " (" + size + " bytes)");
    }
    out.end(size, HexFormat.of().formatHex(digest.digest()));
  }
}
