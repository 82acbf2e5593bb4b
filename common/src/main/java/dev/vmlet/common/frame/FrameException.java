package dev.vmlet.common.frame;

/** Something about a frame on the agent link is wrong; each subclass names one way. */
public abstract class FrameException extends Exception {
  protected FrameException(String message) {
    super(message);
  }

  protected FrameException(String message, Throwable cause) {
    super(message, cause);
  }
}
