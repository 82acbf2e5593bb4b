package dev.vmlet.common.frame;

import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes whole frames to an {@link OutputStream}, or to a {@link BufferOutput} that takes them from
 * native memory; safe to call from several threads. Writers take turns in arrival order (a fair
 * lock), so a stream that always has a frame ready cannot keep the others off the link.
 */
public final class FrameWriter {
  /** Where a writer puts frames it encoded into direct buffers. */
  @FunctionalInterface
  public interface BufferOutput {
    /** Writes all of {@code frame}, from its position to its limit, before returning, or fails. */
    void write(ByteBuffer frame) throws IOException;
  }

  /**
   * Frames up to this size (a file chunk or an exec's output frame, with room to spare) are
   * encoded into a direct buffer that each sending thread keeps; a larger one gets a buffer of its
   * own.
   */
  static final int KEPT = 33 * 1024;

  private static final ThreadLocal<ByteBuffer> KEPT_BUFFERS = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(KEPT));

  private final OutputStream out;
  private final BufferOutput buffers;
  private final ReentrantLock lock = new ReentrantLock(true);

  public FrameWriter(OutputStream out) {
    this.out = out;
    this.buffers = null;
  }

  /**
   * A writer that encodes each frame into native memory its thread keeps and hands that to {@code
   * out}: no array allocated (and zeroed) per frame, and no copy of it into native memory by the
   * JDK before the write, each a pass over the bytes that the guest's CPU pays for under TCG.
   */
  public FrameWriter(BufferOutput out) {
    this.out = null;
    this.buffers = out;
  }

  public void write(Frame frame) throws IOException {
    if (buffers != null) {
      writeBuffer(frame);
      return;
    }
    byte[] bytes = FrameEncoder.encode(frame);
    lock.lock();
    try {
      out.write(bytes);
      out.flush();
    } finally {
      lock.unlock();
    }
  }

  private void writeBuffer(Frame frame) throws IOException {
    int length = FrameEncoder.payloadSize(frame);
    int size = FrameFormat.HEADER_SIZE + length;
    ByteBuffer b = size <= KEPT ? KEPT_BUFFERS.get() : ByteBuffer.allocateDirect(size);
    FrameEncoder.encode(frame, length, b);
    lock.lock();
    try {
      buffers.write(b);
    } finally {
      lock.unlock();
    }
  }
}
