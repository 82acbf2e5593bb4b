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

  /** What a caller can ask of a VM, and the states in which it may. */
  public enum Operation {
    START("start", CREATED, STOPPED, CRASHED),
    STOP("stop", RUNNING, PAUSED, STOPPED, CRASHED),
    PAUSE("pause", RUNNING),
    RESUME("resume", PAUSED),
    REBOOT("restart", RUNNING),
    EXEC("exec in", RUNNING),
    WAIT_FOR_AGENT("wait for the agent of", STARTING, RUNNING),
    CONSOLE("open the console of", RUNNING, PAUSED),
    SNAPSHOT("snapshot", RUNNING, PAUSED, STOPPED, CRASHED),
    DELETE("delete (stop it first, or force)", CREATED, STOPPED, CRASHED);

    private final String verb;
    private final Set<VmState> from;

    Operation(String verb, VmState first, VmState... rest) {
      this.verb = verb;
      this.from = EnumSet.of(first, rest);
    }

    public boolean allowedIn(VmState state) {
      return from.contains(state);
    }
  }

  private VmTransitions() {}

  /**
   * @throws VmStateException naming the state when the operation does not fit it
   */
  public static void require(String vm, VmState state, Operation op) {
    if (!op.allowedIn(state)) {
      throw new VmStateException(vm, state, op.verb);
    }
  }

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
