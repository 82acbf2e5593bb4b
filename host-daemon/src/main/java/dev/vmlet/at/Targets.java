package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.common.at.Control;
import java.io.IOException;
import java.util.List;

/** What the stages of a line run on: VMs' agents by name, label selectors, and VM controls. */
public interface Targets {
  /**
   * The agent of a VM (or of an alias such as {@code host}).
   *
   * @throws IllegalArgumentException or {@link dev.vmlet.spec.VmException} naming the VM when it does not
   *     exist, is not running, or has no agent; {@link SecurityException} when the caller may not use it
   */
  AgentLink agent(String vm);

  /** The names of the VMs whose label {@code key} is {@code value}, sorted; empty when none. */
  List<String> select(String key, String value);

  /** Carries out a control flag on a VM; returns what it prints (may be empty). */
  String control(String vm, Control control) throws IOException;

  /** Whether the VM (or alias) runs Windows, whose commands go to {@code cmd /c} unsplit. */
  default boolean isWindows(AgentLink agent) {
    var hello = agent.hello();
    return hello != null && hello.getGuest().getOs().startsWith("Windows");
  }
}
