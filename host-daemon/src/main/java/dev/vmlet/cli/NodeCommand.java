package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.Capabilities;
import dev.vmlet.proto.v1.GetCapabilitiesRequest;
import dev.vmlet.proto.v1.Missing;
import dev.vmlet.proto.v1.Tool;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import dev.vmlet.api.ApiEnums;

@Command(name = "node", mixinStandardHelpOptions = true, description = "About this host.", subcommands = NodeCommand.Info.class)
final class NodeCommand {
  @Command(name = "info", mixinStandardHelpOptions = true,
      description = {"What this host can do for VMs: QEMU, KVM, UEFI firmware, IOMMU and VFIO, hugepages, CPUs, memory, tools;",
          "each missing item with the command that fixes it here."})
  static final class Info implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Mixin OutputFormat output;

    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        Capabilities caps = c.node().withDeadlineAfter(30, TimeUnit.SECONDS).getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
        output.print(caps, () -> print(caps));
      }
      return 0;
    }

    static void print(Capabilities c) {
      String fmt = "%-16s %s%n";
      System.out.printf(fmt, "QEMU", c.getQemuBinary().isEmpty() ? "not found" : c.getQemuBinary() + " (" + c.getQemuVersion() + ")");
      System.out.printf(fmt, "Accelerator", ApiEnums.word(c.getAccel()) + ": " + c.getAccelReason());
      System.out.printf(fmt, "KVM", (c.getKvmPresent() ? "/dev/kvm present" : "no /dev/kvm") + ", " + (c.getKvmWorks() ? "works" : "not working"));
      System.out.printf(fmt, "UEFI (OVMF)", c.getOvmfCount() == 0 ? "not found" : String.join(", ", c.getOvmfList()));
      System.out.printf(fmt, "IOMMU", c.getIommu() ? c.getIommuGroups() + " groups" : "off");
      System.out.printf(fmt, "vfio-pci", c.getVfioPci() ? "loaded" : "not loaded");
      System.out.printf(fmt, "GPU passthrough", c.getPassthroughNote());
      System.out.printf(fmt, "Hugepages 2M", c.getHugepages2MFree() + " free of " + c.getHugepages2MTotal());
      System.out.printf(fmt, "Host", c.getHostCpus() + " CPUs, " + c.getHostMemoryMib() + " MiB, " + c.getDistribution());
      for (Tool t : c.getToolsList()) {
        System.out.printf(fmt, t.getName(), (t.getPath().isEmpty() ? "missing" : t.getPath()) + " (" + t.getPurpose() + ")");
      }
      if (c.getMissingCount() > 0) {
        System.out.println();
        System.out.println("Missing:");
        for (Missing m : c.getMissingList()) {
          System.out.println("  " + m.getItem() + ": " + m.getWhy());
          System.out.println("    fix: " + m.getFix());
        }
      }
    }
  }
}
