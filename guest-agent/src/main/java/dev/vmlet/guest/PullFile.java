package dev.vmlet.guest;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A pulled file, read from the start into direct buffers whose bytes libcrypto digests and the
 * frames' encoder copies where they are: one copy out of the page cache, none through a heap array.
 *
 * <p>Reading with {@code O_DIRECT} as a push writes (tried, docs/benchmarks.md) was faster than
 * reading a file that such a push had left out of the page cache only while the guest's CPU had
 * ERMS; without it (vmlet's CPU model under TCG) the two were alike, and a pull reads through the
 * page cache. Not thread-safe: one pull's reader owns it.
 */
final class PullFile implements Closeable {
  /** Bytes per buffer: fewer reads and digest calls per MiB than the frames' 32 KiB (each dear under TCG). */
  static final int BUFFER = 256 * 1024;

  private final FileChannel channel;
  /** The offset of the next read. */
  private long at;

  private PullFile(FileChannel channel) {
    this.channel = channel;
  }

  /** {@code file} opened to read from its start. */
  static PullFile open(Path file) throws IOException {
    return new PullFile(FileChannel.open(file, StandardOpenOption.READ));
  }

  /** A direct buffer for a file of {@code size} bytes: as large as the file, at most {@link #BUFFER}. */
  static ByteBuffer buffer(long size) {
    return ByteBuffer.allocateDirect((int) Math.max(1, Math.min(BUFFER, size)));
  }

  /**
   * Fills {@code buf} (cleared) from the file, up to its limit or the file's end.
   *
   * @return the bytes read; 0 at the end of the file
   */
  int read(ByteBuffer buf) throws IOException {
    int start = buf.position();
    while (buf.hasRemaining()) {
      int n = channel.read(buf, at);
      if (n <= 0) {
        break;
      }
      at += n;
    }
    return buf.position() - start;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
