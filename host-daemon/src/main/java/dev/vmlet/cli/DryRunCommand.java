package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DryRunResponse;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "dry-run", mixinStandardHelpOptions = true,
    description = "Print the exact QEMU command line a launch would run, without creating or starting anything.")
final class DryRunCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin VmSpecOptions vm;

  @Mixin OutputFormat output;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      DryRunResponse r = c.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
          .dryRun(CreateVmRequest.newBuilder().setSpec(vm.toSpec()).build());
      output.print(r, () -> {
        System.out.println("# " + r.getAccelReason());
        System.out.println(r.getCommandLine());
      });
      return 0;
    }
  }
}
