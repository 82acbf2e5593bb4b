package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.FleetNode;
import dev.vmlet.proto.v1.ListFleetVmsRequest;
import dev.vmlet.proto.v1.ListFleetVmsResponse;
import dev.vmlet.proto.v1.NodeVm;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import dev.vmlet.proto.v1.VmState;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import dev.vmlet.api.ApiEnums;

@Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List the VMs on this host (or, with --all-nodes, of the fleet).")
final class ListCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin OutputFormat output;

  @Option(names = "--state", description = "Only VMs in this state: ${COMPLETION-CANDIDATES}.")
  VmState state;

  @Option(names = "--label", paramLabel = "KEY=VALUE", description = "Only VMs with this label; repeatable, all must match.")
  Map<String, String> labels = new LinkedHashMap<>();

  @Option(names = "--all-nodes", description = {"The VMs of every node the daemon knows (vmlet nodes), with a NODE column;",
      "nodes that cannot answer are named on stderr."})
  boolean allNodes;

  @Override
  public Integer call() throws Exception {
    if (allNodes) {
      return allNodes();
    }
    try (DaemonClient c = client.connect()) {
      var reply = c.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.newBuilder()
          .setState(state == null ? VmState.VM_STATE_UNSPECIFIED : state).putAllLabels(labels).build());
      if (output.json()) {
        System.out.println(OutputFormat.toJson(reply));
        return 0;
      }
      var vms = reply.getVmsList();
      String fmt = "%-24s %-9s %-5s %-5s %-8s %s%n";
      System.out.printf(fmt, "NAME", "STATE", "CPUS", "MEM", "ACCEL", "AGENT");
      for (Vm v : vms) {
        System.out.printf(fmt, v.getSpec().getName(), v.getState(), v.getSpec().getVcpus(), v.getSpec().getMemoryMib() + "M",
            ApiEnums.show(v.getAccel()), v.getAgentReady() ? "ready" : "-");
      }
      return 0;
    }
  }

  private Integer allNodes() throws Exception {
    try (DaemonClient c = client.connect()) {
      ListFleetVmsResponse reply = c.node().withDeadlineAfter(120, TimeUnit.SECONDS).listFleetVms(ListFleetVmsRequest.newBuilder()
          .setFilter(ListVmsRequest.newBuilder().setState(state == null ? VmState.VM_STATE_UNSPECIFIED : state).putAllLabels(labels))
          .build());
      if (output.json()) {
        System.out.println(OutputFormat.toJson(reply));
        return 0;
      }
      String fmt = "%-20s %-24s %-9s %-5s %-5s %-8s %s%n";
      System.out.printf(fmt, "NODE", "NAME", "STATE", "CPUS", "MEM", "ACCEL", "AGENT");
      for (NodeVm n : reply.getVmsList()) {
        Vm v = n.getVm();
        System.out.printf(fmt, n.getNode(), v.getSpec().getName(), v.getState(), v.getSpec().getVcpus(), v.getSpec().getMemoryMib() + "M",
            ApiEnums.show(v.getAccel()), v.getAgentReady() ? "ready" : "-");
      }
      for (FleetNode u : reply.getUnreachableList()) {
        System.err.println("vmlet: node " + (u.getName().isEmpty() ? "" : u.getName() + " ") + "at " + u.getAddress()
            + " cannot be reached: " + u.getError());
      }
      return 0;
    }
  }
}
