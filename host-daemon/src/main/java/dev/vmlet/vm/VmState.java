package dev.vmlet.vm;

/** Lifecycle states of a VM; the allowed moves between them are in {@link VmTransitions}. */
public enum VmState {
  CREATED,
  STARTING,
  RUNNING,
  PAUSED,
  STOPPING,
  STOPPED,
  CRASHED
}
