package dev.vmlet.cli;

import dev.vmlet.daemon.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import dev.vmlet.vm.VmConfig;
import dev.vmlet.vm.VmException;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "launch", mixinStandardHelpOptions = true,
    description = "Create and start a VM, then wait until its agent phones home.")
final class LaunchCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Option(names = "--name", required = true, description = "VM name: lower-case letters, digits and '-', at most 63.")
  String name;

  @Option(names = "--cpus", defaultValue = "1", description = "vCPUs (default: ${DEFAULT-VALUE}).")
  int cpus;

  @Option(names = "--memory", defaultValue = "512", paramLabel = "MIB", description = "Memory in MiB (default: ${DEFAULT-VALUE}).")
  long memory;

  @Option(names = "--image", defaultValue = "micro", description = "Image to boot (default: ${DEFAULT-VALUE}).")
  String image;

  @Option(names = "--accel", defaultValue = "auto", description = "auto, kvm or tcg (default: ${DEFAULT-VALUE}).")
  String accel;

  @Option(names = "--no-wait", description = "Return once QEMU runs, without waiting for the agent.")
  boolean noWait;

  @Option(names = "--timeout", defaultValue = "180", paramLabel = "SECONDS", description = "How long to wait for the agent (default: ${DEFAULT-VALUE}).")
  int timeout;

  @Override
  public Integer call() throws Exception {
    try {
      new VmConfig(name, cpus, memory, image, accel); // refuse bad input before touching the daemon
    } catch (VmException e) {
      throw new CliException(e.getMessage());
    }
    try (DaemonClient c = client.connect()) {
      VmSpec spec = VmSpec.newBuilder().setName(name).setVcpus(cpus).setMemoryMib(memory).setImage(image).setAccel(accel).build();
      Vm vm = c.vms().withDeadlineAfter(120, TimeUnit.SECONDS)
          .createVm(CreateVmRequest.newBuilder().setSpec(spec).setStart(true).build());
      System.out.println("Launched " + name + ": " + vm.getState() + ", " + vm.getAccel() + " (" + vm.getAccelReason() + "), QEMU pid " + vm.getPid());
      if (noWait) {
        return 0;
      }
      Vm ready = c.vms().withDeadlineAfter(timeout + 10L, TimeUnit.SECONDS)
          .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(timeout).build());
      System.out.printf("Agent ready in %.1f s (QEMU start to phone-home): %s%n",
          (ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs()) / 1000.0, ready.getGuest().getKernel());
      return 0;
    }
  }
}
