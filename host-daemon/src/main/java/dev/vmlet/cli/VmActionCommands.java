package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmServiceGrpc.VmServiceBlockingStub;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** The commands that take one VM name, make one call and print the resulting state. */
final class VmActionCommands {
  private VmActionCommands() {}

  abstract static class Action implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Mixin OutputFormat output;

    @Parameters(paramLabel = "NAME", description = "The VM.")
    String name;

    private final String verb;
    private final BiFunction<VmServiceBlockingStub, VmRef, Vm> call;

    Action(String verb, BiFunction<VmServiceBlockingStub, VmRef, Vm> call) {
      this.verb = verb;
      this.call = call;
    }

    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        Vm v = call.apply(c.vms().withDeadlineAfter(120, TimeUnit.SECONDS), VmRef.newBuilder().setName(name).build());
        output.print(v, () -> System.out.println(verb + " " + name + ": " + v.getState()));
        return 0;
      }
    }
  }

  @Command(name = "start", mixinStandardHelpOptions = true, description = "Start a stopped VM.")
  static final class Start extends Action {
    Start() {
      super("Started", VmServiceBlockingStub::startVm);
    }
  }

  @Command(name = "pause", mixinStandardHelpOptions = true, description = "Freeze a running VM's vCPUs.")
  static final class Pause extends Action {
    Pause() {
      super("Paused", VmServiceBlockingStub::pauseVm);
    }
  }

  @Command(name = "resume", mixinStandardHelpOptions = true, description = "Let a paused VM run again.")
  static final class Resume extends Action {
    Resume() {
      super("Resumed", VmServiceBlockingStub::resumeVm);
    }
  }

  @Command(name = "restart", mixinStandardHelpOptions = true,
      description = "Reset a running VM (like the reset button); its agent phones home again.")
  static final class Restart extends Action {
    Restart() {
      super("Restarted", VmServiceBlockingStub::rebootVm);
    }
  }
}
