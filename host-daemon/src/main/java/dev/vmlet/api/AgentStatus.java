package dev.vmlet.api;

import dev.vmlet.agent.AgentException;
import io.grpc.Status;

/** The gRPC status for an error the agent answered with: its code carries over. */
final class AgentStatus {
  private AgentStatus() {}

  static Status of(AgentException e) {
    Status s = switch (e.code()) {
      case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
      case NOT_FOUND -> Status.NOT_FOUND;
      case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
      case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
      case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
      case UNAVAILABLE -> Status.UNAVAILABLE;
      case CANCELLED -> Status.CANCELLED;
      default -> Status.UNKNOWN;
    };
    return s.withDescription(e.getMessage());
  }
}
