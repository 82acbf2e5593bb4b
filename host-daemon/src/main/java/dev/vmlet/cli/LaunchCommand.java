package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import dev.vmlet.api.ApiEnums;

@Command(name = "launch", mixinStandardHelpOptions = true,
    description = "Create and start a VM, then wait until its agent phones home.")
final class LaunchCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin VmSpecOptions vm;

  @Mixin OutputFormat output;

  @Option(names = "--no-wait", description = "Return once QEMU runs, without waiting for the agent.")
  boolean noWait;

  @Option(names = "--timeout", defaultValue = "180", paramLabel = "SECONDS", description = "How long to wait for the agent (default: ${DEFAULT-VALUE}).")
  int timeout;

  @Option(names = "--template", paramLabel = "TEMPLATE",
      description = {"Resume a saved VM instead of booting (vmlet template create): the VM gets the template's image,",
          "disks (as overlays) and size, and its own name, identity, labels and forwards."})
  String template = "";

  @Spec CommandSpec command;

  @Override
  public Integer call() throws Exception {
    VmSpec spec = vm.toSpec(); // refuse bad input before touching the daemon
    if (!template.isEmpty()) {
      spec = cloneSpec(spec);
    }
    String name = spec.getName();
    try (DaemonClient c = client.connect()) {
      Vm created;
      try (Progress p = Progress.start("starting QEMU")) {
        created = c.vms().withDeadlineAfter(120, TimeUnit.SECONDS)
            .createVm(CreateVmRequest.newBuilder().setSpec(spec).setTemplate(template).setStart(true).build());
      }
      if (output.json()) {
        // One object for scripts: the VM as it is when launch returns (after the agent, unless --no-wait).
        Vm last = noWait ? created : c.vms().withDeadlineAfter(timeout + 10L, TimeUnit.SECONDS)
            .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(timeout).build());
        System.out.println(OutputFormat.toJson(last));
        return 0;
      }
      System.out.println("Launched " + name + ": " + created.getState() + ", " + ApiEnums.show(created.getAccel()) + " ("
          + created.getAccelReason() + "), QEMU pid " + created.getPid());
      for (var f : created.getForwardsList()) {
        System.out.println("Forward " + f.getHostAddress() + ":" + f.getHostPort() + " -> guest port " + f.getGuestPort()
            + "/" + ApiEnums.word(f.getProtocol()));
      }
      if (noWait) {
        return 0;
      }
      Vm ready;
      try (Progress p = Progress.start("waiting for the agent to phone home")) {
        ready = c.vms().withDeadlineAfter(timeout + 10L, TimeUnit.SECONDS)
            .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(timeout).build());
      }
      System.out.printf("Agent ready in %.1f s (QEMU start to phone-home%s): %s%n",
          (ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs()) / 1000.0, template.isEmpty() ? "" : ", resumed from " + template,
          ready.getGuest().getKernel());
      return 0;
    }
  }

  /** A clone's spec: the name, labels and forwards; vcpus and memory only when given (the daemon checks them). */
  private VmSpec cloneSpec(VmSpec s) {
    var parsed = command.commandLine().getParseResult();
    for (String boot : new String[] {"--image", "--disk", "--kernel", "--machine", "--firmware", "--gpu", "--share", "--tap",
        "--cloud-init", "--ssh-key", "--initrd", "--cmdline", "--agent-port", "--hugepages", "--balloon", "--cpu-pinning", "--accel"}) {
      if (parsed.hasMatchedOption(boot)) {
        throw new CliException(boot + " cannot be given with --template: a clone resumes the template's machine; give only"
            + " --name, labels and forwards");
      }
    }
    return VmSpec.newBuilder().setName(s.getName()).putAllLabels(s.getLabelsMap()).addAllForwards(s.getForwardsList())
        .setVcpus(parsed.hasMatchedOption("--cpus") ? s.getVcpus() : 0)
        .setMemoryMib(parsed.hasMatchedOption("--memory") ? s.getMemoryMib() : 0).build();
  }
}
