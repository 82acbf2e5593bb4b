package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.daemon.Daemon;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.ExecClient;
import dev.vmlet.image.MicroImage;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import java.io.ByteArrayOutputStream;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import dev.vmlet.api.ApiEnums;
import dev.vmlet.qemu.QemuCommandBuilder;

@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Show vmlet working from nothing: build the micro image if needed, start a daemon if none runs,",
        "launch a VM, time its phone-home, run commands in it, then stop and delete it and stop that daemon.",
        "(The ./vmlet launcher installs missing host packages before this runs.)"})
final class DemoCommand implements Callable<Integer> {

  @Override
  public Integer call() throws Exception {
    VmletPaths paths = VmletPaths.fromEnvironment();
    step("Building the micro image (a no-op when it is up to date)");
    MicroImage image = ImageCommand.buildMicro(paths);
    System.out.println("  kernel " + image.kernelVersion() + ", image in " + image.kernel().getParent());

    Daemon started = null;
    if (DaemonClient.isListening(paths.socket())) {
      step("Using the daemon already listening on " + paths.socket());
    } else {
      step("Starting a daemon on " + paths.socket());
      started = Daemon.start(paths, Daemon.DEFAULT_QEMU);
    }
    String name = "demo-" + UUID.randomUUID().toString().substring(0, 6);
    try (DaemonClient c = new DaemonClient(paths.socket())) {
      step("Launching VM " + name);
      Vm vm;
      try {
        vm = c.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName(name)).setStart(true).build());
      } catch (RuntimeException e) {
        deleteQuietly(c, name); // a VM that was created but did not start must not stay behind
        throw e;
      }
      System.out.println("  QEMU pid " + vm.getPid() + ", accelerator " + ApiEnums.word(vm.getAccel()) + ": " + vm.getAccelReason());
      try {
        Vm ready = c.vms().withDeadlineAfter(200, TimeUnit.SECONDS)
            .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(180).build());
        System.out.printf("  agent phoned home %.1f s after QEMU started (guest %s, agent %s)%n",
            (ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs()) / 1000.0,
            ready.getGuest().getHostname(), ready.getAgentVersion());
        run(c, name, List.of("uname", "-a"));
        run(c, name, List.of("sh", "-c", "echo \"hello from $(hostname): $(nproc) vCPU, $(free -m | awk '/Mem:/{print $2}') MiB\"; exit 3"));
      } finally {
        step("Stopping and deleting " + name);
        Vm stopped = c.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
            .stopVm(StopVmRequest.newBuilder().setName(name).setTimeoutSeconds(10).build());
        System.out.println("  " + stopped.getState());
        c.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).build());
        System.out.println("  deleted");
      }
    } finally {
      if (started != null) {
        step("Stopping the daemon this demo started");
        started.close();
      }
    }
    step("Demo finished");
    return 0;
  }

  private static void run(DaemonClient c, String name, List<String> argv) throws InterruptedException {
    step("vmlet exec " + name + " -- " + QemuCommandBuilder.toShellLine(argv));
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    ExecClient exec = ExecClient.start(c.vmsAsync().withDeadlineAfter(60, TimeUnit.SECONDS),
        ExecRequest.newBuilder().setName(name).addAllArgv(argv).build());
    ExecResponse r;
    while ((r = exec.next()) != null) {
      switch (r.getPayloadCase()) {
        case STDOUT -> System.out.print("  | " + r.getStdout().toStringUtf8().replace("\n", "\n  | ").replaceAll("\\s*\\|\\s*$", "\n"));
        case STDERR -> err.writeBytes(r.getStderr().toByteArray());
        case EXIT -> {
          ExecExit e = r.getExit();
          if (err.size() > 0) {
            System.out.print("  stderr: " + err);
          }
          System.out.println("  exit code " + e.getExitCode());
        }
        default -> { }
      }
    }
  }

  private static void deleteQuietly(DaemonClient c, String name) {
    try {
      c.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    } catch (RuntimeException ignored) {
      // nothing was created, or the daemon is gone; the original error is what matters
    }
  }

  private static void step(String s) {
    System.out.println("==> " + s);
  }
}
