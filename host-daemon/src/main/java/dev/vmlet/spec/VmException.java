package dev.vmlet.spec;

/**
 * The one error type of the VM domain. {@link Kind} says how a caller should treat it; the API
 * layer maps it to a gRPC status once, at the boundary.
 */
public class VmException extends RuntimeException {
  /** What went wrong, in the caller's terms. */
  public enum Kind {
    INVALID_ARGUMENT,
    NOT_FOUND,
    ALREADY_EXISTS,
    FAILED_PRECONDITION,
    UNAVAILABLE,
    DEADLINE_EXCEEDED,
    RESOURCE_EXHAUSTED,
    INTERNAL
  }

  private final Kind kind;

  public VmException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public VmException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  public static VmException invalid(String message) {
    return new VmException(Kind.INVALID_ARGUMENT, message);
  }

  public static VmException notFound(String name) {
    return new VmException(Kind.NOT_FOUND, "no VM named '" + name + "' (see: vmlet list)");
  }
}
