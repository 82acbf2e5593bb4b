package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.Hello;

/** Why a Hello began a new agent session where another was open, in the words the daemon uses for it. */
public final class NewSession {
  private NewSession() {}

  /**
   * @param vm the VM's name for the sentence ("the agent of VM web1 restarted"), or null ("the agent restarted")
   * @return the guest rebooted, the agent restarted, or the agent lost the host, with the reason the
   *     agent gave for its previous session's end when it gave one (older agents give none)
   */
  public static String why(String vm, Hello previous, Hello next) {
    String of = vm == null ? "" : " of VM " + vm;
    if (!previous.getBootId().equals(next.getBootId())) {
      return "the guest" + of + " rebooted";
    }
    if (!previous.getAgentStartId().equals(next.getAgentStartId())) {
      return "the agent" + of + " restarted";
    }
    String ended = next.getPreviousSessionEnd();
    return "the agent" + of + " started a new session (it lost the host" + (ended.isEmpty() ? "" : ": " + ended) + ")";
  }
}
