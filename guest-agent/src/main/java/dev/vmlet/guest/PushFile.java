package dev.vmlet.guest;

import com.google.protobuf.ByteString;
import com.sun.nio.file.ExtendedOpenOption;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Logger;

/**
 * A push's temporary file and the SHA-256 of what goes into it.
 *
 * <p>Under TCG, on Linux, a new push's file is written with {@code O_DIRECT}, {@value #BATCH}
 * bytes at a time from an aligned buffer in native memory: each chunk is copied once out of its
 * frame into the buffer, digested there (libcrypto reads it where it is) and handed to the disk
 * without the guest kernel copying it into its page cache. Under TCG every byte the guest's CPU
 * copies is emulated: in a Debian guest the writer's file and digest work took 24-31 ms of guest
 * CPU per MiB through the page cache against 16-17 with {@code O_DIRECT}, and on vmlet's CPU model
 * (without ERMS) a push moved 32.0 MB/s against 25.0 (docs/benchmarks.md). The last piece is
 * written padded to the alignment and the file truncated to its size. Under KVM a copy costs next
 * to nothing and a write through the page cache returns before the disk has it, so pushes go
 * through the page cache there.
 *
 * <p>Where {@code O_DIRECT} is refused (tmpfs, as the micro image's root; some network or FUSE
 * file systems), at the open or at a write, the file is written through the page cache as
 * before, from the same offset; a resumed push, which continues a file of any size, too.
 * Not thread-safe: the push's writer owns it.
 */
final class PushFile implements Closeable {
  private static final Logger LOG = Logger.getLogger(PushFile.class.getName());

  /** Alignment of the buffer, the offsets and the lengths written with O_DIRECT: a page, which covers 512- and 4096-byte disks. */
  static final int ALIGN = 4096;

  /** Bytes per O_DIRECT write: fewer than 256 KiB cost more per MiB (32 KiB writes more than buffered ones). */
  static final int BATCH = 256 * 1024;

  /**
   * Whether pushes try O_DIRECT: under TCG ({@link GuestFiles#TCG}) on Linux;
   * {@code -Dvmlet.agent.push.direct=true} or {@code =false} decides instead (to measure one
   * against the other).
   */
  static final boolean DIRECT = System.getProperty("os.name", "").equals("Linux")
      && Boolean.parseBoolean(System.getProperty("vmlet.agent.push.direct", String.valueOf(GuestFiles.TCG)));

  /** Buffers of pushes that ended, for the next: direct memory is freed only by a GC. */
  private static final ConcurrentLinkedQueue<ByteBuffer> SPARE = new ConcurrentLinkedQueue<>();
  private static final int SPARE_MAX = 2;

  private final Path path;
  private final MessageDigest digest;
  private final DirectWrite directWrite;
  /** Bytes taken: in the file, or in {@link #batch} on their way there. */
  private long size;
  /** With O_DIRECT: the channel and the buffer filled up to the next write; both null when buffered. */
  private FileChannel direct;
  private ByteBuffer batch;
  /** Bytes in the file already (with O_DIRECT; always a multiple of {@link #ALIGN} before the end). */
  private long onDisk;
  /** Buffered: the file, opened to append. */
  private OutputStream out;
  private final OutputStream digestOut = new OutputStream() {
    @Override
    public void write(int b) {
      digest.update((byte) b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      digest.update(b, off, len);
    }
  };

  private PushFile(Path path, MessageDigest digest, DirectWrite directWrite) {
    this.path = path;
    this.digest = digest;
    this.directWrite = directWrite;
  }

  /**
   * The push's file {@code temp}, created already; what it holds (a resumed push) is read into the
   * digest and counted first.
   *
   * @param tryDirect whether to try O_DIRECT (a new, empty file on Linux)
   */
  static PushFile open(Path temp, MessageDigest digest, boolean tryDirect) throws IOException {
    return open(temp, digest, tryDirect, FileChannel::write);
  }

  /** One positional write to the file opened with O_DIRECT (tests: one that is refused). */
  interface DirectWrite {
    int write(FileChannel file, ByteBuffer src, long position) throws IOException;
  }

  static PushFile open(Path temp, MessageDigest digest, boolean tryDirect, DirectWrite directWrite) throws IOException {
    PushFile f = new PushFile(temp, digest, directWrite);
    try (InputStream kept = Files.newInputStream(temp)) {
      byte[] buf = new byte[GuestFiles.CHUNK];
      int n;
      while ((n = kept.read(buf)) > 0) {
        digest.update(buf, 0, n);
        f.size += n;
      }
    }
    if (tryDirect && f.size == 0) {
      try {
        f.direct = FileChannel.open(temp, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
        f.batch = buffer();
        return f;
      } catch (IOException | UnsupportedOperationException e) {
        LOG.fine(temp + ": no O_DIRECT (" + e.getMessage() + "); through the page cache");
      }
    }
    f.out = Files.newOutputStream(temp, StandardOpenOption.APPEND);
    return f;
  }

  /** Whether the file is written with O_DIRECT (until a write is refused). */
  boolean direct() {
    return direct != null;
  }

  /** Bytes taken so far, those a resumed push began with included. */
  long size() {
    return size;
  }

  /** Appends {@code data} to the file and the digest. */
  void write(ByteString data) throws IOException {
    int off = 0;
    while (off < data.size()) {
      if (direct == null) { // through the page cache from the start, or since a write was refused
        ByteString rest = data.substring(off);
        rest.writeTo(out);
        rest.writeTo(digestOut);
        size += rest.size();
        return;
      }
      int n = Math.min(data.size() - off, batch.remaining());
      int at = batch.position();
      data.substring(off, off + n).copyTo(batch); // a view of the frame's bytes: the one copy
      ByteBuffer taken = batch.duplicate();
      taken.limit(at + n).position(at);
      digest.update(taken);
      off += n;
      size += n;
      if (!batch.hasRemaining()) {
        writeBatch(BATCH);
      }
    }
  }

  /** Puts every byte taken into the file and closes it; the file then holds exactly {@link #size()} bytes. */
  void complete() throws IOException {
    try {
      if (direct != null && batch.position() > 0) {
        int pending = batch.position();
        int padded = (pending + ALIGN - 1) / ALIGN * ALIGN;
        while (batch.position() < padded) {
          batch.put((byte) 0);
        }
        writeBatch(pending);
        if (direct != null) {
          direct.truncate(onDisk);
        }
      }
    } finally {
      close();
    }
  }

  /** Closes the file without writing what the buffer still holds (the push was dropped). */
  @Override
  public void close() throws IOException {
    ByteBuffer b = batch;
    batch = null;
    if (b != null && SPARE.size() < SPARE_MAX) {
      b.clear();
      SPARE.offer(b);
    }
    try (Closeable c1 = direct; Closeable c2 = out) {
      direct = null;
      out = null;
    }
  }

  /** Writes the buffer (filled to an aligned length) at {@link #onDisk}; {@code bytes} of it count. */
  private void writeBatch(int bytes) throws IOException {
    batch.flip();
    try {
      long at = onDisk;
      while (batch.hasRemaining()) {
        at += directWrite.write(direct, batch, at);
      }
    } catch (IOException e) {
      // Refused where the open was not (some file systems check at the write): the same bytes
      // through the page cache, from the same offset, and the rest of the push after them.
      LOG.info(path + ": O_DIRECT write refused (" + e.getMessage() + "); through the page cache");
      direct.close();
      direct = null;
      try (FileChannel c = FileChannel.open(path, StandardOpenOption.WRITE)) {
        c.truncate(onDisk);
      }
      out = Files.newOutputStream(path, StandardOpenOption.APPEND);
      byte[] rest = new byte[bytes];
      batch.position(0);
      batch.get(rest);
      out.write(rest);
      onDisk += bytes;
      return;
    }
    onDisk += bytes;
    batch.clear();
  }

  /** An aligned direct buffer of {@link #BATCH} bytes: a spare one, or a new one. */
  private static ByteBuffer buffer() {
    ByteBuffer b = SPARE.poll();
    return b != null ? b : ByteBuffer.allocateDirect(BATCH + ALIGN).alignedSlice(ALIGN).limit(BATCH).slice();
  }
}
