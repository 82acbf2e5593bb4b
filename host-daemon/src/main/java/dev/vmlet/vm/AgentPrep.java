package dev.vmlet.vm;

/** What the daemon does with a VM's agent before it saves the VM as a template (CreateTemplateRequest). */
public enum AgentPrep {
  /** Save at once (skip_agent_setup): clones make the native set-up and compile the exec path themselves. */
  NONE,
  /** Wait for the agent's native set-up (skip_warm_up): clones start programs through libc, their exec path interpreted at first. */
  SET_UP,
  /** Wait for the native set-up, then warm the agent with execs of {@code true} (the default): clones answer their first execs compiled. */
  WARM;

  /** The warm-up's execs of {@code true}, and its bound in seconds ({@link AgentSetupWait}); also in the CLI's help. */
  public static final int WARM_EXECS = 500;
  public static final int WARM_BOUND_SECONDS = 20;

  /** From the request's two flags: skipping the set-up skips the warm-up too. */
  public static AgentPrep of(boolean skipAgentSetup, boolean skipWarmUp) {
    return skipAgentSetup ? NONE : skipWarmUp ? SET_UP : WARM;
  }
}
