package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.StreamError;
import java.io.IOException;

/** A request the agent answered with an error: its code (PERMISSION_DENIED, NOT_FOUND, ...) and message. */
public final class AgentException extends IOException {
  private final StreamError.Code code;

  public AgentException(StreamError error) {
    super(error.getMessage());
    this.code = error.getCode();
  }

  public StreamError.Code code() {
    return code;
  }
}
