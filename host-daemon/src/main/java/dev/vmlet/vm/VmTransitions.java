package dev.vmlet.vm;

import static dev.vmlet.vm.VmState.*;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The one transition table of the VM state machine. Every state change in {@link VmManager} goes
 * through {@link #check}; nothing assigns a state without it.
 */
public final class VmTransitions {
  private static final Map<VmState, Set<VmState>> ALLOWED = new EnumMap<>(VmState.class);

  static {
    ALLOWED.put(CREATED, EnumSet.of(STARTING));
    ALLOWED.put(STARTING, EnumSet.of(RUNNING, CRASHED, STOPPED));
    ALLOWED.put(RUNNING, EnumSet.of(PAUSED, STOPPING, STOPPED, CRASHED));
    ALLOWED.put(PAUSED, EnumSet.of(RUNNING, STOPPING, STOPPED, CRASHED));
    ALLOWED.put(STOPPING, EnumSet.of(STOPPED, CRASHED));
    ALLOWED.put(STOPPED, EnumSet.of(STARTING));
    ALLOWED.put(CRASHED, EnumSet.of(STARTING, STOPPED));
  }

  private VmTransitions() {}

  public static boolean allowed(VmState from, VmState to) {
    return ALLOWED.get(from).contains(to);
  }

  /**
   * @throws VmStateException if the move is not in the table
   */
  public static void check(String vm, VmState from, VmState to, String action) {
    if (!allowed(from, to)) {
      throw new VmStateException(vm, from, action);
    }
  }
}
