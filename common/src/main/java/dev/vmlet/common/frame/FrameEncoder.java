package dev.vmlet.common.frame;

import com.google.protobuf.CodedOutputStream;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/** Turns a {@link Frame} into its bytes on the wire (see {@link FrameFormat}). Stateless. */
public final class FrameEncoder {
  private FrameEncoder() {}

  /**
   * @throws IllegalArgumentException if the serialized frame is larger than {@link
   *     FrameFormat#MAX_PAYLOAD}: the sender must split its data, the receiver would refuse it
   */
  public static byte[] encode(Frame frame) {
    int length = payloadSize(frame);
    // The frame is serialized straight behind its header: a file chunk is copied once here, not
    // into a payload array first and then again into the frame (the guest's CPU is what limits a
    // transfer under TCG).
    byte[] out = new byte[FrameFormat.HEADER_SIZE + length];
    encode(frame, length, ByteBuffer.wrap(out));
    return out;
  }

  /**
   * The size of {@code frame}'s payload, checked against {@link FrameFormat#MAX_PAYLOAD}.
   *
   * @throws IllegalArgumentException if it is larger
   */
  public static int payloadSize(Frame frame) {
    int length = frame.getSerializedSize();
    if (length > FrameFormat.MAX_PAYLOAD) {
      throw new IllegalArgumentException(
          "frame of " + length + " bytes exceeds the maximum of " + FrameFormat.MAX_PAYLOAD);
    }
    return length;
  }

  /**
   * Writes {@code frame}, whose payload is {@code length} bytes ({@link #payloadSize}), into {@code
   * into} from its index 0, which may be a direct buffer kept between frames (no array to
   * allocate and zero per frame); {@code into} is left with position 0 and its limit at the
   * frame's end.
   *
   * @throws IllegalArgumentException if {@code into} is too small for the frame
   */
  public static void encode(Frame frame, int length, ByteBuffer into) {
    int size = FrameFormat.HEADER_SIZE + length;
    if (into.capacity() < size) {
      throw new IllegalArgumentException("a frame of " + size + " bytes does not fit a buffer of " + into.capacity());
    }
    into.clear();
    ByteBuffer payload = into.duplicate().position(FrameFormat.HEADER_SIZE).limit(size).slice();
    CodedOutputStream coded = CodedOutputStream.newInstance(payload);
    try {
      frame.writeTo(coded);
      coded.flush();
    } catch (IOException e) {
      throw new IllegalStateException("serializing into a buffer of the frame's own size failed", e);
    }
    coded.checkNoSpaceLeft();
    payload.flip();
    CRC32C crc = new CRC32C();
    crc.update(payload);
    into.order(ByteOrder.BIG_ENDIAN)
        .putInt(0, FrameFormat.MAGIC)
        .putInt(4, length)
        .putInt(8, ~length)
        .putInt(12, (int) crc.getValue())
        .limit(size);
  }
}
