package dev.vmlet.agent;

/** What every stream on the agent link can be told: it failed, and why. No more calls follow. */
public interface StreamListener {
  void failed(String reason);
}
