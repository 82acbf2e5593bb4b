package dev.vmlet.common.frame;

/** A frame's payload does not match the CRC32C in its header. */
public final class FrameChecksumException extends FrameException {
  public FrameChecksumException(int expected, int actual) {
    super(String.format("frame checksum mismatch: header says %08x, payload has %08x", expected, actual));
  }
}
