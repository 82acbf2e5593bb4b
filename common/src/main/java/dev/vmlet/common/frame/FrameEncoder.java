package dev.vmlet.common.frame;

import com.google.protobuf.CodedOutputStream;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
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
    int length = frame.getSerializedSize();
    if (length > FrameFormat.MAX_PAYLOAD) {
      throw new IllegalArgumentException(
          "frame of " + length + " bytes exceeds the maximum of " + FrameFormat.MAX_PAYLOAD);
    }
    // The frame is serialized straight behind its header: a file chunk is copied once here, not
    // into a payload array first and then again into the frame (the guest's CPU is what limits a
    // transfer under TCG).
    byte[] out = new byte[FrameFormat.HEADER_SIZE + length];
    CodedOutputStream coded = CodedOutputStream.newInstance(out, FrameFormat.HEADER_SIZE, length);
    try {
      frame.writeTo(coded);
    } catch (IOException e) {
      throw new IllegalStateException("serializing into an array of the frame's own size failed", e);
    }
    coded.checkNoSpaceLeft();
    CRC32C crc = new CRC32C();
    crc.update(out, FrameFormat.HEADER_SIZE, length);
    ByteBuffer.wrap(out)
        .putInt(FrameFormat.MAGIC)
        .putInt(length)
        .putInt(~length)
        .putInt((int) crc.getValue());
    return out;
  }
}
