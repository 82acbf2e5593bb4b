package dev.vmlet.cli;

import dev.vmlet.proto.v1.BootBreakdown;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import dev.vmlet.api.ApiEnums;
import java.util.function.BiConsumer;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Show one VM: state, accelerator and why, agent, files.")
final class InfoCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin OutputFormat output;

  @Parameters(paramLabel = "NAME", description = "The VM.")
  String name;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      Vm v = c.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
      if (output.json()) {
        System.out.println(OutputFormat.toJson(v));
        return 0;
      }
      line("Name", v.getSpec().getName());
      line("Instance", v.getInstanceId());
      line("State", v.getState().toString());
      line("vCPUs", Integer.toString(v.getSpec().getVcpus()));
      line("Memory", v.getSpec().getMemoryMib() + " MiB");
      line("Image", v.getSpec().getImage());
      line("Accel", v.getAccelValue() == 0 ? "(not started)" : ApiEnums.word(v.getAccel()) + " — " + v.getAccelReason());
      if (!v.getCpuModel().isEmpty()) {
        line("CPU model", v.getCpuModel());
      }
      if (v.getPid() != 0) {
        line("QEMU pid", Long.toString(v.getPid()));
      }
      if (v.getStartedAtUnixMs() != 0) {
        line("Started", Instant.ofEpochMilli(v.getStartedAtUnixMs()).toString());
      }
      if (v.getAgentReady()) {
        line("Agent", "ready, " + v.getAgentVersion() + ", " + String.format("%.1f s after QEMU start",
            (v.getAgentReadyAtUnixMs() - v.getStartedAtUnixMs()) / 1000.0));
        line("Guest", v.getGuest().getOs() + " " + v.getGuest().getKernel() + " " + v.getGuest().getArch()
            + ", hostname " + v.getGuest().getHostname());
        if (v.hasBootBreakdown()) {
          line("Boot to agent", breakdown(v.getBootBreakdown()));
        }
      } else {
        line("Agent", "not connected");
      }
      for (var f : v.getForwardsList()) {
        line("Forward", f.getHostAddress() + ":" + f.getHostPort() + " -> guest " + f.getGuestPort() + "/" + ApiEnums.word(f.getProtocol()));
      }
      if (v.getSshPort() != 0) {
        line("SSH", v.getSshHost() + " port " + v.getSshPort() + " (guest port 22)"
            + (v.getSshUser().isEmpty() ? "" : ", user " + v.getSshUser() + ", key " + v.getSshIdentityFile() + "; vmlet ssh " + v.getSpec().getName()));
      }
      if (v.getStartedAtUnixMs() != 0 && !v.getSshUser().isEmpty()) {
        line("Boot", timeline(v));
      }
      if (v.getSpec().getCredentialsCount() > 0) {
        // Names only: the daemon never returns a credential's value.
        line("Credentials", String.join(", ", v.getSpec().getCredentialsList().stream().map(k -> k.getName()).toList()));
      }
      if (!v.getSpec().getHttpProxy().isEmpty()) {
        line("HTTP proxy", v.getSpec().getHttpProxy());
      }
      line("MAC", v.getMac());
      line("Console", v.getConsoleLog());
      if (!v.getLastError().isEmpty()) {
        line("Last error", v.getLastError());
      }
      if (!v.getQemuCommand().isEmpty()) {
        line("QEMU", v.getQemuCommand());
      }
      return 0;
    }
  }

  /** Seconds after QEMU started at which each later step of a cloud image's boot happened. */
  static String timeline(Vm v) {
    long t0 = v.getStartedAtUnixMs();
    StringBuilder sb = new StringBuilder("QEMU started 0 s");
    BiConsumer<String, Long> step = (what, at) ->
        sb.append(", ").append(what).append(' ').append(at == 0 ? "-" : String.format("%.1f s", (at - t0) / 1000.0));
    step.accept("kernel console", v.getConsoleFirstOutputUnixMs());
    step.accept("agent ready", v.getAgentReady() ? v.getAgentReadyAtUnixMs() : 0L);
    step.accept("cloud-init done", v.getCloudInitDoneUnixMs());
    step.accept("SSH ready", v.getSshReadyUnixMs());
    return sb.toString();
  }

  /** Where a boot's time to agent ready went, in seconds, phase by phase. */
  static String breakdown(BootBreakdown b) {
    return String.format("firmware %.2f s, kernel %.2f s, init %.2f s, agent JVM %.2f s, agent main %.2f s, handshake %.2f s",
        b.getFirmwareMs() / 1000.0, b.getKernelMs() / 1000.0, b.getInitMs() / 1000.0, b.getAgentJvmMs() / 1000.0,
        b.getAgentMainMs() / 1000.0, b.getHandshakeMs() / 1000.0);
  }

  private static void line(String k, String v) {
    System.out.printf("%-11s %s%n", k + ":", v);
  }
}
