package dev.vmlet.vm;

import dev.vmlet.proto.agent.v1.Hello;

/**
 * What the daemon knows of a VM's agent in the current QEMU: the Hello it accepted (null while none
 * is), when the agent of this boot first said it, and why the last Hello was refused. Immutable;
 * the agent link's threads report a change by publishing a new one (see {@link VmRuntime#report}).
 *
 * @param hello the accepted Hello of the current session; null when the agent is not connected
 * @param readyAtMs when the agent of {@code bootId} first said Hello; a new session of the same boot keeps it
 * @param bootId the boot whose agent last said Hello; "" before any
 * @param refusal why the last Hello was refused (protocol versions), until one is accepted; null when none was
 * @param boot where the time to {@code readyAtMs} went; null when not known
 */
record AgentState(Hello hello, long readyAtMs, String bootId, String refusal, BootBreakdown boot) {
  /** A QEMU just started or re-adopted: no agent heard from yet. */
  static final AgentState NONE = new AgentState(null, 0, "", null, null);

  /** The agent said Hello; a new boot id restarts the readiness clock. */
  AgentState ready(Hello h, long nowMs) {
    return ready(h, nowMs, null);
  }

  /** As {@link #ready(Hello, long)}; {@code breakdown} is kept for a new boot only, like its readiness time. */
  AgentState ready(Hello h, long nowMs, BootBreakdown breakdown) {
    boolean newBoot = !h.getBootId().equals(bootId);
    return new AgentState(h, newBoot ? nowMs : readyAtMs, h.getBootId(), null, newBoot ? breakdown : boot);
  }

  /** The session ended; the boot and its readiness time stay for the next session of the same boot. */
  AgentState lost() {
    return new AgentState(null, readyAtMs, bootId, refusal, boot);
  }

  AgentState refused(String reason) {
    return new AgentState(hello, readyAtMs, bootId, reason, boot);
  }
}
