package dev.vmlet.it;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.ExecClient;
import dev.vmlet.client.FileClient;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.PushFileHeader;
import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import dev.vmlet.api.ApiEnums;
import java.io.ByteArrayInputStream;
import java.io.IOException;

/** What the VM tests do to guests through a daemon: wait for the agent, run commands. */
final class Guests {
  private Guests() {}

  record Result(String stdout, String stderr, int exitCode) {}

  static Result exec(DaemonClient client, String vm, String... argv) {
    return exec(client, ExecRequest.newBuilder().setName(vm).addAllArgv(List.of(argv)).build());
  }

  static Result exec(DaemonClient client, ExecRequest request) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Integer.MIN_VALUE;
    ExecClient exec = ExecClient.start(client.vmsAsync().withDeadlineAfter(60, TimeUnit.SECONDS), request);
    ExecResponse r;
    while ((r = next(exec)) != null) {
      switch (r.getPayloadCase()) {
        case STDOUT -> out.writeBytes(r.getStdout().toByteArray());
        case STDERR -> err.writeBytes(r.getStderr().toByteArray());
        case EXIT -> code = r.getExit().getExitCode();
        default -> { }
      }
    }
    return new Result(out.toString(), err.toString(), code);
  }

  private static ExecResponse next(ExecClient exec) {
    try {
      return exec.next();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
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
        ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs(), ApiEnums.word(ready.getAccel()));
    return ready;
  }
  /**
   * Pushes {@code data} through the API, claiming {@code sha} as its digest (null: the real one);
   * cancels after half of it when asked (and returns null).
   */
  static FileTransferResult push(DaemonClient client, String vm, String path, byte[] data, String sha, boolean cancelHalfway)
      throws Exception {
    return FileClient.push(client, PushFileHeader.newBuilder().setName(vm).setPath(path).build(),
        new ByteArrayInputStream(data), sha, cancelHalfway ? data.length / 2 : -1);
  }

  static String sha(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  record Pulled(byte[] data, FileTransferResult done) {}

  static Pulled pull(DaemonClient client, String vm, String path) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    FileTransferResult done = FileClient.pull(client, vm, path, out, info -> { });
    return new Pulled(out.toByteArray(), done);
  }

}
