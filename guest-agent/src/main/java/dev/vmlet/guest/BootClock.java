package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.BootTimes;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The guest's boot clock (/proc/uptime, whose 0 is the kernel's start) and the steps of the
 * guest's start the agent reports in its Hello: when init began (the micro image's init script
 * writes {@link #INIT_FILE}), when agent.sh exec'd the JVM ({@link #EXEC_ENV}) and when main began.
 */
final class BootClock {
  /** Written by the micro image's init script: its start, in seconds of /proc/uptime. */
  static final Path INIT_FILE = Path.of("/run/vmlet/init-uptime");
  /** Set by agent.sh just before it execs the JVM: seconds of /proc/uptime. */
  static final String EXEC_ENV = "VMLET_AGENT_EXEC_UPTIME";
  private static final Path UPTIME = Path.of("/proc/uptime");

  private BootClock() {}

  /** Milliseconds since the kernel started; 0 where the guest has no /proc/uptime. */
  static long nowMs() {
    return GuestFacts.firstLine(UPTIME).map(BootClock::secondsToMs).orElse(0L);
  }

  /** The steps known at the agent's start; {@code mainMs} is when main began. */
  static BootTimes atStart(long mainMs) {
    return BootTimes.newBuilder()
        .setInitMs(GuestFacts.firstLine(INIT_FILE).map(BootClock::secondsToMs).orElse(0L))
        .setAgentExecMs(Optional.ofNullable(System.getenv(EXEC_ENV)).map(BootClock::secondsToMs).orElse(0L))
        .setAgentMainMs(mainMs)
        .build();
  }

  /**
   * The first number of a /proc/uptime line ("12.34 5.67") in milliseconds; 0 for anything else,
   * since a wrong figure from a file the guest writes must not stop the agent.
   */
  static long secondsToMs(String line) {
    String first = line.strip().split("\\s+", 2)[0];
    try {
      double s = Double.parseDouble(first);
      return s >= 0 && s < 1e9 ? Math.round(s * 1000) : 0;
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
