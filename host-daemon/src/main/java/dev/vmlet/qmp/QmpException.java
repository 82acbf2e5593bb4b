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

  /** No answer came in time: QEMU is hung, stopped, or too busy. */
  public static final String NO_ANSWER = "NoAnswer";

  /** QEMU's error class (e.g. "GenericError"), {@link #NO_ANSWER}, or empty when the link failed. */
  public String errorClass() {
    return errorClass;
  }
}
