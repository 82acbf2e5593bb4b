package dev.vmlet.cli;

import dev.vmlet.api.ApiEnums;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.FleetNode;
import dev.vmlet.proto.v1.ListNodesRequest;
import dev.vmlet.proto.v1.ListNodesResponse;
import dev.vmlet.proto.v1.NodeSummary;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "nodes", mixinStandardHelpOptions = true,
    description = {"The fleet as the daemon sees it: this node, the nodes file's and the peers found through DNS (--peers),",
        "each with its address, accelerator, free memory, CPUs and VMs; the unreachable ones with the reason.",
        "Exit code 0 even when some cannot be reached (they are listed under Unreachable, and in --format json)."})
final class NodesCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin OutputFormat output;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      // The daemon asks DNS and each peer (at most 5 s each) before it answers.
      ListNodesResponse r = c.node().withDeadlineAfter(60, TimeUnit.SECONDS).listNodes(ListNodesRequest.getDefaultInstance());
      output.print(r, () -> print(r));
    }
    return 0;
  }

  static void print(ListNodesResponse r) {
    String fmt = "%-20s %-26s %-5s %-12s %-5s %-7s %s%n";
    System.out.printf(fmt, "NAME", "ADDRESS", "ACCEL", "MEM FREE", "CPUS", "VMS", "SOURCE");
    for (FleetNode n : r.getNodesList()) {
      String name = n.getName().isEmpty() ? "?" : n.getName();
      if (n.getReachable()) {
        NodeSummary s = n.getSummary();
        System.out.printf(fmt, name, n.getAddress(), ApiEnums.show(s.getAccel()), s.getMemoryAvailableMib() + "/" + s.getMemoryTotalMib()
            + "M", s.getCpus(), s.getRunningVmCount() + "/" + s.getVmCount(), n.getSource());
      } else {
        System.out.printf(fmt, name, n.getAddress(), "-", "-", "-", "-", n.getSource());
      }
    }
    boolean header = false;
    for (FleetNode n : r.getNodesList()) {
      if (!n.getReachable()) {
        if (!header) {
          System.out.println();
          System.out.println("Unreachable:");
          header = true;
        }
        System.out.println("  " + (n.getName().isEmpty() ? "" : n.getName() + " ") + "at " + n.getAddress() + ": " + n.getError());
      }
    }
  }
}
