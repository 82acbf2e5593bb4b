package dev.vmlet.vm;

/**
 * Where one boot's time went, QEMU start to agent ready, in milliseconds; the phases follow each
 * other and add up to the whole. The guest reports its steps on its boot clock (0 is the kernel's
 * start); the daemon's clock at the arrival of the Hello places that clock's 0 on the daemon's
 * timeline, which gives the firmware's share (QEMU start to the kernel's start).
 *
 * @param firmwareMs QEMU start to the kernel's start (firmware, loading the kernel and initrd)
 * @param kernelMs the kernel's start to /init; 0 when the guest's init does not say when it began
 * @param initMs /init (or the kernel's start, when kernelMs is 0) to the agent's JVM start
 * @param agentJvmMs the JVM's start to the agent's main()
 * @param agentMainMs main() to the Hello
 * @param handshakeMs the Hello to the daemon marking the agent ready
 */
public record BootBreakdown(long firmwareMs, long kernelMs, long initMs, long agentJvmMs, long agentMainMs, long handshakeMs) {
  /**
   * The breakdown from the guest's steps (boot clock, ms; 0: not known) and the daemon's times
   * (Unix ms); null when the guest did not report the steps needed (an older agent, no /proc/uptime).
   */
  public static BootBreakdown of(long qemuStartedAtMs, long helloArrivedAtMs, long readyAtMs,
      long initMs, long agentExecMs, long agentMainMs, long helloMs) {
    if (qemuStartedAtMs <= 0 || helloArrivedAtMs < qemuStartedAtMs || readyAtMs < helloArrivedAtMs
        || agentExecMs <= 0 || agentMainMs < agentExecMs || helloMs < agentMainMs || initMs > agentExecMs) {
      return null;
    }
    long kernelStartAtMs = helloArrivedAtMs - helloMs;
    return new BootBreakdown(Math.max(0, kernelStartAtMs - qemuStartedAtMs), initMs, agentExecMs - initMs,
        agentMainMs - agentExecMs, helloMs - agentMainMs, readyAtMs - helloArrivedAtMs);
  }
}
