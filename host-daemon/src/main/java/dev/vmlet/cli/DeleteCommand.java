package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.DeleteVmRequest;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true,
    description = "Delete a stopped VM and its files (--force stops it first).")
final class DeleteCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin OutputFormat output;

  @Parameters(paramLabel = "NAME", description = "The VM.")
  String name;

  @Option(names = "--force", description = "Stop the VM first if it runs.")
  boolean force;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      var r = c.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(force).build());
      output.print(r, () -> System.out.println("Deleted " + name));
      return 0;
    }
  }
}
