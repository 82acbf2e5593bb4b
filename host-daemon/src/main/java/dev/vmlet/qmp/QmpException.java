package dev.vmlet.qmp;

import java.io.IOException;

/** A QMP command failed: QEMU answered with an error, the link broke, or no answer came in time. */
public final class QmpException extends IOException {
  private final String errorClass;

  public QmpException(String errorClass, String message) {
    super(message);
    this.errorClass = errorClass;
  }

  public QmpException(String message, Throwable cause) {
    super(message, cause);
    this.errorClass = "";
  }

  /** QEMU's error class (e.g. "GenericError"), or empty when the failure was not QEMU's answer. */
  public String errorClass() {
    return errorClass;
  }
}
