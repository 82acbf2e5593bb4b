package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "stop", mixinStandardHelpOptions = true,
    description = "Stop a VM: ACPI powerdown, then QMP quit, then SIGTERM, then SIGKILL, each bounded.")
final class StopCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin OutputFormat output;

  @Parameters(paramLabel = "NAME", description = "The VM.")
  String name;

  @Option(names = "--force", description = "Skip the graceful powerdown.")
  boolean force;

  @Option(names = "--timeout", defaultValue = "10", paramLabel = "SECONDS", description = "How long the guest gets to power off (default: ${DEFAULT-VALUE}).")
  int timeout;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      Vm stopped;
      try (Progress p = Progress.start("stopping " + name)) {
        stopped = c.vms().withDeadlineAfter(timeout + 30L, TimeUnit.SECONDS)
            .stopVm(StopVmRequest.newBuilder().setName(name).setForce(force).setTimeoutSeconds(timeout).build());
      }
      output.print(stopped, () -> System.out.println("Stopped " + name + ": " + stopped.getState()));
      return 0;
    }
  }
}
