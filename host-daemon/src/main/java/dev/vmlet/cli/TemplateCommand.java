package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.ListTemplatesRequest;
import dev.vmlet.proto.v1.ListTemplatesResponse;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.TemplateRef;
import dev.vmlet.vm.AgentPrep;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "template", mixinStandardHelpOptions = true,
    description = {"Templates: the saved state of a running VM whose agent is ready, which new VMs resume from",
        "instead of booting (vmlet launch --name NAME --template TEMPLATE)."},
    subcommands = {TemplateCommand.Create.class, TemplateCommand.ListTemplates.class, TemplateCommand.Info.class,
        TemplateCommand.Delete.class})
final class TemplateCommand implements Runnable {
  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  abstract static class Base implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Mixin OutputFormat output;
  }

  abstract static class Named extends Base {
    @Parameters(index = "0", paramLabel = "NAME", description = "The template.")
    String name;
  }

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = "Save a running VM (paused for the save, running on after) as a template.")
  static final class Create extends Named {
    @Option(names = "--from", required = true, paramLabel = "VM", description = "The running VM whose agent is ready.")
    String vm;

    @Option(names = "--skip-agent-setup", description = "Save at once, without waiting (up to 90 s) for the agent's native"
        + " set-up; clones then set their clock and MAC with processes, which takes longer.")
    boolean skipAgentSetup;

    @Option(names = "--skip-warm-up", description = "Save without first running `true` " + AgentPrep.WARM_EXECS + " times in the VM"
        + " (up to " + AgentPrep.WARM_BOUND_SECONDS + " s) to warm its agent; clones then answer their first few hundred execs"
        + " more slowly, as a new VM does.")
    boolean skipWarmUp;

    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        Template t;
        try (Progress p = Progress.start(skipAgentSetup || skipWarmUp ? "saving " + vm
            : "warming the agent of " + vm + " (up to " + AgentPrep.WARM_BOUND_SECONDS + " s), then saving it")) {
          t = c.vms().withDeadlineAfter(10, TimeUnit.MINUTES).createTemplate(CreateTemplateRequest.newBuilder().setName(name)
              .setVm(vm).setSkipAgentSetup(skipAgentSetup).setSkipWarmUp(skipWarmUp).build());
        }
        output.print(t, () -> System.out.println("Template " + name + " saved from " + vm + ": " + mib(t.getStateBytes())
            + " of state, " + mib(t.getSizeBytes()) + " in all"));
        return 0;
      }
    }
  }

  @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List the templates.")
  static final class ListTemplates extends Base {
    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        ListTemplatesResponse r = c.vms().withDeadlineAfter(30, TimeUnit.SECONDS).listTemplates(ListTemplatesRequest.getDefaultInstance());
        output.print(r, () -> {
          String fmt = "%-20s %-16s %-8s %-5s %-8s %-10s %-24s %s%n";
          System.out.printf(fmt, "TEMPLATE", "FROM", "IMAGE", "CPUS", "MEMORY", "SIZE", "CREATED", "CLONES");
          for (Template t : r.getTemplatesList()) {
            System.out.printf(fmt, t.getName(), t.getSourceVm(), t.getImage(), t.getVcpus(), t.getMemoryMib() + "M",
                mib(t.getSizeBytes()), Instant.ofEpochMilli(t.getCreatedAtMs()), t.getClonesCount());
          }
        });
        return 0;
      }
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true, description = "Show a template.")
  static final class Info extends Named {
    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        Template t = c.vms().withDeadlineAfter(30, TimeUnit.SECONDS).getTemplate(TemplateRef.newBuilder().setName(name).build());
        output.print(t, () -> {
          System.out.println("Template:  " + t.getName());
          System.out.println("From VM:   " + t.getSourceVm() + " (image " + t.getImage() + ", " + t.getVcpus() + " vCPUs, "
              + t.getMemoryMib() + " MiB)");
          System.out.println("Created:   " + Instant.ofEpochMilli(t.getCreatedAtMs()));
          System.out.println("Size:      " + mib(t.getSizeBytes()) + " (state " + mib(t.getStateBytes()) + ")");
          System.out.println("QEMU:      " + t.getQemuVersion());
          System.out.println("Guest:     " + t.getGuest().getOsRelease() + " " + t.getGuest().getKernel() + ", hostname "
              + t.getGuest().getHostname());
          System.out.println("Agent:     " + (t.getAgentWarmUpExecs() == 0 ? "not warmed (clones compile their exec path themselves)"
              : "warmed with " + t.getAgentWarmUpExecs() + " execs before the save"));
          System.out.println("Clones:    " + (t.getClonesCount() == 0 ? "-" : String.join(", ", t.getClonesList())));
        });
        return 0;
      }
    }
  }

  @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true,
      description = "Delete a template (refused while VMs cloned from it exist).")
  static final class Delete extends Named {
    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        var done = c.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteTemplate(TemplateRef.newBuilder().setName(name).build());
        output.print(done, () -> System.out.println("Deleted template " + name));
        return 0;
      }
    }
  }

  private static String mib(long bytes) {
    return String.format("%.1f MiB", bytes / 1048576.0);
  }
}
