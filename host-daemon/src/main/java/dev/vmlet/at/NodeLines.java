package dev.vmlet.at;

import dev.vmlet.common.at.Pipeline;
import dev.vmlet.common.at.Redirect;
import dev.vmlet.common.at.Stage;
import dev.vmlet.common.at.Target;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Lines that name another node ({@code @node2/db uptime}): such a line is run by that node's
 * daemon, as the same line without the node prefixes. A line runs on one node: mixing targets of
 * two nodes (or of another node and this one) is refused with the column.
 */
public final class NodeLines {
  /** The node to send the line to, and the line it should run there. */
  public record Remote(String node, String line) {}

  private NodeLines() {}

  /** Null when every target is on this node. */
  public static Remote remote(Pipeline p, String line) {
    return remote(p, line, null);
  }

  /**
   * Null when every target is on this node; targets named {@code @self/vm} count as this node's
   * (the answer is then {@code self} with the line without the prefixes, to run here).
   */
  public static Remote remote(Pipeline p, String line, String self) {
    List<Target> targets = new ArrayList<>();
    for (Stage s : p.stages()) {
      targets.add(s.target());
      for (Redirect r : s.redirects()) {
        if (r.target() != null) {
          targets.add(r.target());
        }
      }
    }
    Target first = targets.stream().filter(t -> t.node() != null).findFirst().orElse(null);
    if (first == null) {
      return null;
    }
    boolean here = first.node().equals(self);
    for (Target t : targets) {
      if (here && t.node() == null) {
        continue; // @self/a | @b: both here
      }
      if (!first.node().equals(t.node())) {
        throw new IllegalArgumentException("column " + t.column() + ": " + t + " is not on node " + first.node() + " like " + first
            + "; a line runs on one node (prefix every target with " + first.node() + "/)");
      }
    }
    // Drop "node/" after each '@', from the right so the columns stay valid.
    StringBuilder local = new StringBuilder(line);
    targets.sort(Comparator.comparingInt(Target::column).reversed());
    for (Target t : targets) {
      if (t.node() == null) {
        continue;
      }
      int at = t.column() - 1;
      local.delete(at + 1, at + 1 + t.node().length() + 1);
    }
    return new Remote(first.node(), local.toString());
  }
}
