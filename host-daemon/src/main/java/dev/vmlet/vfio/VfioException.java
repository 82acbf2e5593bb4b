package dev.vmlet.vfio;

import java.io.IOException;

/** A passthrough that cannot be done, saying what to do. */
public final class VfioException extends IOException {
  public VfioException(String message) {
    super(message);
  }

  public VfioException(String message, Throwable cause) {
    super(message, cause);
  }
}
