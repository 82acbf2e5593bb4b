package dev.vmlet.common.frame;

import dev.vmlet.proto.agent.v1.Frame;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** Turns a {@link Frame} into its bytes on the wire (see {@link FrameFormat}). Stateless. */
public final class FrameEncoder {
  private FrameEncoder() {}

  /**
   * @throws IllegalArgumentException if the serialized frame is larger than {@link
   *     FrameFormat#MAX_PAYLOAD}: the sender must split its data, the receiver would refuse it
   */
  public static byte[] encode(Frame frame) {
    byte[] payload = frame.toByteArray();
    if (payload.length > FrameFormat.MAX_PAYLOAD) {
      throw new IllegalArgumentException(
          "frame of " + payload.length + " bytes exceeds the maximum of " + FrameFormat.MAX_PAYLOAD);
    }
    CRC32C crc = new CRC32C();
    crc.update(payload);
    ByteBuffer out = ByteBuffer.allocate(FrameFormat.HEADER_SIZE + payload.length);
    out.putInt(FrameFormat.MAGIC)
        .putInt(payload.length)
        .putInt(~payload.length)
        .putInt((int) crc.getValue())
        .put(payload);
    return out.array();
  }
}
