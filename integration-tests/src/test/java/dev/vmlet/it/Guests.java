package dev.vmlet.it;

import dev.vmlet.daemon.DaemonClient;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import java.io.ByteArrayOutputStream;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** What the VM tests do to guests through a daemon: wait for the agent, run commands. */
final class Guests {
  private Guests() {}

  record Result(String stdout, String stderr, int exitCode) {}

  static Result exec(DaemonClient client, String vm, String... argv) {
    Iterator<ExecResponse> it = client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .exec(ExecRequest.newBuilder().setName(vm).addAllArgv(List.of(argv)).build());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Integer.MIN_VALUE;
    while (it.hasNext()) {
      ExecResponse r = it.next();
      switch (r.getPayloadCase()) {
        case STDOUT -> out.writeBytes(r.getStdout().toByteArray());
        case STDERR -> err.writeBytes(r.getStderr().toByteArray());
        case EXIT -> code = r.getExit().getExitCode();
        default -> { }
      }
    }
    return new Result(out.toString(), err.toString(), code);
  }

  /** A shell line's standard output. */
  static String sh(DaemonClient client, String vm, String line) {
    return exec(client, vm, "sh", "-c", line).stdout();
  }

  /** Waits up to 180 s for the agent, and prints how long phone-home took. */
  static Vm waitReady(DaemonClient client, String vm) {
    Vm ready = client.vms().withDeadlineAfter(200, TimeUnit.SECONDS)
        .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(vm).setTimeoutSeconds(180).build());
    System.out.printf("phone-home %s: %d ms after QEMU start (%s)%n", vm,
        ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs(), ready.getAccel());
    return ready;
  }
}
