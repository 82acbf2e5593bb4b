package dev.vmlet.security;

import java.util.List;

/**
 * A request refused for what it names on the host. The message names the field, the value, why,
 * and what to use instead; {@link Access} turns it into a gRPC status, once.
 */
public final class HostPathException extends RuntimeException {
  /** How the caller should read it. */
  public enum Kind {
    /** The caller may not name this (PERMISSION_DENIED). */
    DENIED,
    /** The value is not a usable path at all (INVALID_ARGUMENT). */
    INVALID,
    /** A field nobody classified (INTERNAL): a daemon bug, refused rather than let through. */
    UNCLASSIFIED
  }

  private final Kind kind;
  private final List<HostPathFields.Named> named;

  HostPathException(Kind kind, String message, List<HostPathFields.Named> named) {
    super(message);
    this.kind = kind;
    this.named = List.copyOf(named);
  }

  public Kind kind() {
    return kind;
  }

  /** Everything the request named on the host, as sent: for the audit line. */
  List<HostPathFields.Named> named() {
    return named;
  }
}
