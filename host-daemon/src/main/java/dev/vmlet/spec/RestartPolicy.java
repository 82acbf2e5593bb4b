package dev.vmlet.spec;

import java.util.Locale;

/**
 * What a daemon does, when it starts, with a VM that is not running (Docker's policies, by name):
 * {@link #NO} leaves it; {@link #ON_FAILURE} starts it again when it CRASHED, which includes a VM
 * whose QEMU ended with the daemon that ran it (a replaced container, a rebooted host); {@link
 * #ALWAYS} also starts it when it was STOPPED (by a user or its own guest), as Docker's {@code
 * always} restarts a stopped container when the engine starts. A VM never started (CREATED) stays so.
 */
public enum RestartPolicy {
  NO, ON_FAILURE, ALWAYS;

  /** Whether a VM found in {@code state} (a VmState's name) at the daemon's start is started again. */
  public boolean restartsFrom(String state) {
    return switch (this) {
      case NO -> false;
      case ON_FAILURE -> state.equals("CRASHED");
      case ALWAYS -> state.equals("CRASHED") || state.equals("STOPPED");
    };
  }

  /** The name users write: no, on-failure, always. */
  public String flag() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Parses no, on-failure or always; the error says what is allowed. */
  public static RestartPolicy parse(String s) {
    for (RestartPolicy p : values()) {
      if (p.flag().equals(s)) {
        return p;
      }
    }
    throw VmException.invalid("restart must be no, on-failure or always, got '" + s + "'");
  }
}
