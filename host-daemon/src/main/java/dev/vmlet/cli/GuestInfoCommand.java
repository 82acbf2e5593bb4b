package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.GuestDisk;
import dev.vmlet.proto.v1.GetGuestInfoResponse;
import dev.vmlet.proto.v1.NetworkAddress;
import dev.vmlet.proto.v1.VmRef;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "guest-info", mixinStandardHelpOptions = true,
    description = "Ask a VM's agent about its guest: OS, kernel, hostname, addresses, uptime, load, memory, disks.")
final class GuestInfoCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin OutputFormat output;

  @Parameters(paramLabel = "NAME", description = "The VM.")
  String name;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      GetGuestInfoResponse g = c.vms().withDeadlineAfter(40, TimeUnit.SECONDS).getGuestInfo(VmRef.newBuilder().setName(name).build());
      if (output.json()) {
        System.out.println(OutputFormat.toJson(g));
        return 0;
      }
      line("OS", g.getGuest().getOsRelease().isEmpty() ? g.getGuest().getOs() : g.getGuest().getOsRelease());
      line("Kernel", g.getGuest().getKernel() + " (" + g.getGuest().getArch() + ")");
      line("Hostname", g.getGuest().getHostname());
      line("Agent", g.getAgentVersion() + (g.getAgentIsRoot() ? ", as root" : ", not root"));
      line("Uptime", String.format("%.0f s", g.getUptimeSeconds()));
      line("Load", g.getLoadAverageList().stream().map(l -> String.format("%.2f", l)).collect(Collectors.joining(" ")));
      line("Memory", String.format("%d MiB available of %d MiB", g.getMemoryAvailableBytes() >> 20, g.getMemoryTotalBytes() >> 20));
      if (g.getCredentialNamesCount() > 0) {
        line("Credentials", String.join(", ", g.getCredentialNamesList()) + " (in $CREDENTIALS_DIRECTORY of the agent's programs)");
      }
      if (!g.getHttpProxy().isEmpty()) {
        line("Proxy", g.getHttpProxy());
      }
      for (NetworkAddress a : g.getAddressesList()) {
        line("Address", a.getInterface() + " " + a.getAddress() + "/" + a.getPrefixLength());
      }
      for (GuestDisk d : g.getDisksList()) {
        line("Disk", String.format("%s (%s) %d MiB free of %d MiB", d.getMountPoint(), d.getFileSystem(), d.getFreeBytes() >> 20,
            d.getTotalBytes() >> 20));
      }
      return 0;
    }
  }

  private static void line(String key, String value) {
    System.out.printf("%-9s %s%n", key + ":", value);
  }
}
