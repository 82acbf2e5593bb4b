package dev.vmlet.guest;

import com.sun.nio.file.ExtendedOpenOption;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.logging.Logger;

/**
 * A pulled file, read from the start into direct buffers whose bytes libcrypto digests and the
 * frames' encoder copies where they are.
 *
 * <p>Under TCG, on Linux, it is read with {@code O_DIRECT} in aligned pieces of up to {@value
 * PushFile#BATCH} bytes: QEMU puts the disk's bytes into the buffer, and the guest's emulated CPU
 * copies nothing out of its page cache. A file that a push just wrote with O_DIRECT is not in the
 * page cache at all; read through it, its first read costs the guest twice what a read with
 * O_DIRECT does (docs/benchmarks.md). Where O_DIRECT is refused (tmpfs, some network or FUSE file
 * systems), at the open or at a read, the file is read through the page cache from the same offset.
 * Not thread-safe: one pull's reader owns it.
 */
final class PullFile implements Closeable {
  private static final Logger LOG = Logger.getLogger(PullFile.class.getName());

  /** As {@link PushFile#DIRECT}, with {@code -Dvmlet.agent.pull.direct} to decide instead. */
  static final boolean DIRECT = System.getProperty("os.name", "").equals("Linux")
      && Boolean.parseBoolean(System.getProperty("vmlet.agent.pull.direct", System.getProperty("vmlet.agent.tcg", "false")));

  private final Path path;
  private FileChannel channel;
  private boolean direct;
  /** The offset of the next read. */
  private long at;

  private PullFile(Path path) {
    this.path = path;
  }

  /** {@code file} opened to read from its start, with O_DIRECT when {@code tryDirect} and the file system allows it. */
  static PullFile open(Path file, boolean tryDirect) throws IOException {
    PullFile f = new PullFile(file);
    if (tryDirect) {
      try {
        f.channel = FileChannel.open(file, StandardOpenOption.READ, ExtendedOpenOption.DIRECT);
        f.direct = true;
        return f;
      } catch (IOException | UnsupportedOperationException e) {
        LOG.fine(file + ": no O_DIRECT (" + e.getMessage() + "); through the page cache");
      }
    }
    f.channel = FileChannel.open(file, StandardOpenOption.READ);
    return f;
  }

  /** A buffer for a file of {@code size} bytes: a whole number of pages, at most {@link PushFile#BATCH}, aligned for O_DIRECT. */
  static ByteBuffer buffer(long size) {
    int pages = (int) Math.max(1, Math.min(PushFile.BATCH, size + PushFile.ALIGN - 1) / PushFile.ALIGN);
    int bytes = pages * PushFile.ALIGN;
    return ByteBuffer.allocateDirect(bytes + PushFile.ALIGN).alignedSlice(PushFile.ALIGN).limit(bytes).slice();
  }

  /** Whether reads use O_DIRECT (until one is refused, or the file's end leaves them unaligned). */
  boolean direct() {
    return direct;
  }

  /**
   * Fills {@code buf} (cleared; aligned, a whole number of pages long, from {@link #buffer}) from
   * the file, up to its limit or the file's end.
   *
   * @return the bytes read; 0 at the end of the file
   */
  int read(ByteBuffer buf) throws IOException {
    int start = buf.position();
    while (buf.hasRemaining()) {
      int n;
      try {
        n = channel.read(buf, at);
      } catch (IOException e) {
        if (!direct) {
          throw e;
        }
        LOG.info(path + ": O_DIRECT read refused (" + e.getMessage() + "); through the page cache");
        toPageCache();
        continue;
      }
      if (n <= 0) {
        break;
      }
      at += n;
      if (direct && at % PushFile.ALIGN != 0) {
        toPageCache(); // a short read (the file's end): the next one could not be aligned
      }
    }
    return buf.position() - start;
  }

  private void toPageCache() throws IOException {
    channel.close();
    channel = FileChannel.open(path, StandardOpenOption.READ);
    direct = false;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
