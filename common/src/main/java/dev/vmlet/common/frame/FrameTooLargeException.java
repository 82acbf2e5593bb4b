package dev.vmlet.common.frame;

/** A header announced a payload larger than {@link FrameFormat#MAX_PAYLOAD}; nothing was allocated. */
public final class FrameTooLargeException extends FrameException {
  private final long announced;

  public FrameTooLargeException(long announced) {
    super("frame payload of " + announced + " bytes exceeds the maximum of " + FrameFormat.MAX_PAYLOAD);
    this.announced = announced;
  }

  public long announced() {
    return announced;
  }
}
