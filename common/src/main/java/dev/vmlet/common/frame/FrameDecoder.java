package dev.vmlet.common.frame;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.vmlet.proto.agent.v1.Frame;
import java.nio.ByteBuffer;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * Incremental decoder for the agent link (see {@link FrameFormat}): feed it bytes as they arrive,
 * in pieces of any size, and it hands out whole frames.
 *
 * <p>Bytes before a valid header are skipped and counted. A header whose length is over the
 * maximum, a payload whose checksum fails or that does not parse are reported to the error
 * listener, and decoding resumes one byte after that header's magic, so one bad frame never
 * wedges the link. Memory is bounded by {@code HEADER_SIZE + MAX_PAYLOAD}. Not thread-safe: one
 * reader thread owns it.
 */
public final class FrameDecoder {
  private final Consumer<Frame> frames;
  private final Consumer<FrameException> errors;
  private final byte[] header = new byte[FrameFormat.HEADER_SIZE];
  private int headerFill;
  private byte[] payload; // non-null while reading a payload
  private int payloadFill;
  private int expectedCrc;
  private long skippedBytes;

  public FrameDecoder(Consumer<Frame> frames, Consumer<FrameException> errors) {
    this.frames = frames;
    this.errors = errors;
  }

  /** Bytes skipped so far because they were not part of a valid frame. */
  public long skippedBytes() {
    return skippedBytes;
  }

  /** Consumes all remaining bytes of {@code in}, delivering every frame they complete. */
  public void decode(ByteBuffer in) {
    while (in.hasRemaining()) {
      if (payload == null) {
        readHeaderByte(in.get());
      } else {
        int n = Math.min(in.remaining(), payload.length - payloadFill);
        in.get(payload, payloadFill, n);
        payloadFill += n;
        if (payloadFill == payload.length) {
          finishPayload();
        }
      }
    }
  }

  /** Convenience for {@link #decode(ByteBuffer)}. */
  public void decode(byte[] bytes, int offset, int length) {
    decode(ByteBuffer.wrap(bytes, offset, length));
  }

  /**
   * Call at end of stream.
   *
   * @throws TruncatedFrameException if a frame was started but not finished
   */
  public void finish() throws TruncatedFrameException {
    if (payload != null) {
      throw new TruncatedFrameException(FrameFormat.HEADER_SIZE + payloadFill, FrameFormat.HEADER_SIZE + payload.length);
    }
    if (headerFill >= 4) {
      throw new TruncatedFrameException(headerFill, FrameFormat.HEADER_SIZE);
    }
    skippedBytes += headerFill;
    headerFill = 0;
  }

  private void readHeaderByte(byte b) {
    header[headerFill++] = b;
    if (headerFill <= 4) {
      if (header[headerFill - 1] != magicByte(headerFill - 1)) {
        resyncFromHeader();
      }
      return;
    }
    if (headerFill < FrameFormat.HEADER_SIZE) {
      return;
    }
    ByteBuffer h = ByteBuffer.wrap(header);
    h.getInt();
    int length = h.getInt();
    int check = h.getInt();
    if (check != ~length) {
      resyncFromHeader();
      return;
    }
    long unsigned = Integer.toUnsignedLong(length);
    if (unsigned > FrameFormat.MAX_PAYLOAD) {
      errors.accept(new FrameTooLargeException(unsigned));
      resyncFromHeader();
      return;
    }
    expectedCrc = h.getInt();
    payload = new byte[length];
    payloadFill = 0;
    if (length == 0) {
      finishPayload();
    }
  }

  private void finishPayload() {
    byte[] data = payload;
    payload = null;
    CRC32C crc = new CRC32C();
    crc.update(data);
    int actual = (int) crc.getValue();
    if (actual != expectedCrc) {
      errors.accept(new FrameChecksumException(expectedCrc, actual));
      // The header looked right but the payload is not ours: rescan everything after the magic.
      byte[] rescan = new byte[FrameFormat.HEADER_SIZE - 1 + data.length];
      System.arraycopy(header, 1, rescan, 0, FrameFormat.HEADER_SIZE - 1);
      System.arraycopy(data, 0, rescan, FrameFormat.HEADER_SIZE - 1, data.length);
      headerFill = 0;
      skippedBytes += 1;
      decode(ByteBuffer.wrap(rescan));
      return;
    }
    headerFill = 0;
    Frame frame;
    try {
      // Aliasing: a frame's bytes fields (file and exec data) are views of `data`, not copies.
      // `data` is this frame's own array, never written again, so the views stay valid.
      CodedInputStream in = CodedInputStream.newInstance(data);
      in.enableAliasing(true);
      frame = Frame.parser().parseFrom(in);
      in.checkLastTagWas(0);
    } catch (InvalidProtocolBufferException e) {
      errors.accept(new MalformedFrameException(e));
      return;
    }
    frames.accept(frame);
  }

  /** Drops the first byte of the partial header and rescans the rest for a magic. */
  private void resyncFromHeader() {
    int n = headerFill;
    byte[] rest = new byte[n - 1];
    System.arraycopy(header, 1, rest, 0, n - 1);
    headerFill = 0;
    skippedBytes += 1;
    for (byte r : rest) {
      readHeaderByte(r);
    }
  }

  private static byte magicByte(int i) {
    return (byte) (FrameFormat.MAGIC >>> (24 - 8 * i));
  }
}
