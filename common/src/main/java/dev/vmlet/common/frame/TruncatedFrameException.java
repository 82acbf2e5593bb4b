package dev.vmlet.common.frame;

/** The stream ended in the middle of a frame. */
public final class TruncatedFrameException extends FrameException {
  public TruncatedFrameException(int have, int need) {
    super("stream ended inside a frame: have " + have + " of " + need + " bytes");
  }
}
