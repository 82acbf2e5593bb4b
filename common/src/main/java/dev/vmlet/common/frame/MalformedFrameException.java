package dev.vmlet.common.frame;

/** A frame passed its checksum but its payload is not a valid {@code vmlet.agent.v1.Frame}. */
public final class MalformedFrameException extends FrameException {
  public MalformedFrameException(Throwable cause) {
    super("frame payload is not a valid vmlet.agent.v1.Frame: " + cause.getMessage(), cause);
  }
}
