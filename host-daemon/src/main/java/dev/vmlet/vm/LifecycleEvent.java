package dev.vmlet.vm;

/** Something that happened to a VM, for watchers. */
public record LifecycleEvent(long atMs, String name, Kind kind, VmState state, String message) {
  /** What happened. */
  public enum Kind {
    STATE_CHANGED,
    AGENT_CONNECTED,
    AGENT_LOST,
    CRASHED,
    DELETED
  }
}
