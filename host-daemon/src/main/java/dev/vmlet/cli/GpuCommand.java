package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.Gpu;
import dev.vmlet.proto.v1.GpuRequest;
import dev.vmlet.proto.v1.ListGpusRequest;
import dev.vmlet.proto.v1.ListGpusResponse;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import dev.vmlet.proto.v1.NodeServiceGrpc;

@Command(name = "gpu", mixinStandardHelpOptions = true, description = "The host's GPUs and their passthrough to VMs (VFIO).",
    subcommands = {GpuCommand.Status.class, GpuCommand.Passthrough.class, GpuCommand.Reclaim.class})
final class GpuCommand {
  static void print(ListGpusResponse r) {
    if (r.getGpusCount() == 0) {
      System.out.println("no GPUs on this host (no PCI display devices)");
      return;
    }
    String fmt = "%-14s %-8s %-14s %-16s %-6s %s%n";
    System.out.printf(fmt, "ADDRESS", "CLASS", "VENDOR:DEVICE", "DRIVER", "GROUP", "HELD BY");
    for (Gpu g : r.getGpusList()) {
      System.out.printf(fmt, (g.getCompanion() ? " " : "") + g.getAddress(), g.getPciClass(), g.getVendor() + ":" + g.getDevice(),
          g.getDriver().isEmpty() ? "-" : g.getDriver(), g.getIommuGroup().isEmpty() ? "-" : g.getIommuGroup(),
          g.getHolder().isEmpty() ? "host" : g.getHolder());
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true, description = "List GPUs and their companion functions, with driver, IOMMU group and holder.")
  static final class Status implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Mixin OutputFormat output;

    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        ListGpusResponse r = c.node().withDeadlineAfter(30, TimeUnit.SECONDS).listGpus(ListGpusRequest.getDefaultInstance());
        output.print(r, () -> print(r));
      }
      return 0;
    }
  }

  /** One card by address, through one NodeService call; prints the GPUs after it. */
  abstract static class OnCard implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Parameters(paramLabel = "ADDR", description = "PCI address, e.g. 0000:01:00.0")
    String address;

    abstract ListGpusResponse call(NodeServiceGrpc.NodeServiceBlockingStub node, GpuRequest req);

    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        print(call(c.node().withDeadlineAfter(120, TimeUnit.SECONDS), GpuRequest.newBuilder().setAddress(address).build()));
      }
      return 0;
    }
  }

  @Command(name = "passthrough", mixinStandardHelpOptions = true,
      description = "Give a GPU and its companions to vfio-pci by hand (the original drivers are remembered).")
  static final class Passthrough extends OnCard {
    @Override
    ListGpusResponse call(NodeServiceGrpc.NodeServiceBlockingStub node, GpuRequest req) {
      return node.passthroughGpu(req);
    }
  }

  @Command(name = "reclaim", mixinStandardHelpOptions = true, description = "Give a GPU back to the driver it had before vmlet took it.")
  static final class Reclaim extends OnCard {
    @Override
    ListGpusResponse call(NodeServiceGrpc.NodeServiceBlockingStub node, GpuRequest req) {
      return node.reclaimGpu(req);
    }
  }
}
