package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.StreamError;

/** What every stream on the agent link can be told: it failed, and why. No more calls follow. */
public interface StreamListener {
  void failed(String reason);

  /** The stream failed with the agent's (or the link's) error code; by default only the reason is passed on. */
  default void failed(StreamError error) {
    failed(error.getMessage());
  }

  /**
   * Whether this listener returns the credit of the data it gets itself, with {@link
   * AgentLink#consumed}, once it has passed the data on (a gRPC stream whose client reads slowly).
   * Otherwise the link returns it as soon as the data callback returns.
   */
  default boolean returnsCredit() {
    return false;
  }
}
