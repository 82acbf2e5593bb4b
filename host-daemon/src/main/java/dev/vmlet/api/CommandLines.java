package dev.vmlet.api;

import com.google.protobuf.ByteString;
import dev.vmlet.at.PipelineRunner;
import dev.vmlet.at.VmTargets;
import dev.vmlet.common.at.AtParser;
import dev.vmlet.common.at.AtSyntaxException;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.RunCommandLineResponse;
import dev.vmlet.proto.v1.RunResult;
import dev.vmlet.proto.v1.StageStderr;
import dev.vmlet.spec.VmException;
import dev.vmlet.vm.VmManager;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.vmlet.at.NodeLines;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.Nodes;
import dev.vmlet.at.FleetLine;
import java.util.List;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.host.HostAccess;
import dev.vmlet.security.Access;
import dev.vmlet.security.Role;
import dev.vmlet.vm.VmView;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.TimeUnit;

/** RunCommandLine: parses a line of the @target language and runs it through the VMs' agents. */
final class CommandLines {
  static final long DEFAULT_LINE_TIMEOUT_SECONDS = 3600;
  /** How much longer than the line's own timeout a line forwarded to another node may take. */
  static final long FORWARD_SLACK_SECONDS = 30;

  private CommandLines() {}

  static void run(VmManager manager, HostAccess host, Fleet nodes, RunCommandLineRequest req,
      StreamObserver<RunCommandLineResponse> out) {
    Pipeline p;
    NodeLines.Remote remote;
    Nodes.Endpoint node = null;
    List<FleetLine.Step> across;
    try {
      p = AtParser.parse(req.getLine());
      across = FleetLine.plan(p, nodes.self(), host::isHost);
      if (across != null && across.stream().anyMatch(st -> st.node() == null)) {
        nodes.selfEndpoint(); // says which flags a line across nodes needs
      }
      remote = across != null ? null : NodeLines.remote(p, req.getLine(), nodes.self());
      if (remote != null && remote.node().equals(nodes.self())) {
        p = AtParser.parse(remote.line()); // @this-node/vm: run here
        remote = null;
      }
      if (remote != null) {
        node = nodes.endpoint(remote.node());
      }
    } catch (IllegalArgumentException e) { // AtSyntaxException too
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    if (remote != null) {
      forward(remote, node, nodes, req, out);
      return;
    }
    GuardedStream<RunCommandLineResponse> stream = new GuardedStream<>(out).paced();
    if (across != null) {
      runAcross(across, nodes, req, stream);
      return;
    }
    Access.Caller caller = Access.CALLER.get(); // null when called without the interceptor
    // Fails closed: a call that reached the service without a known caller may not use @host.
    VmTargets.HostPolicy hostPolicy = caller == null ? VmTargets.HostPolicy.refuse("an unidentified caller")
        : caller.role().allows(Role.ADMIN) ? VmTargets.HostPolicy.ALLOW
        : VmTargets.HostPolicy.refuse(caller.name() + " is " + caller.role().label());
    // Its own thread: the run blocks until every stage ended.
    Pipeline line = p;
    runOnItsThread(stream, () -> PipelineRunner.run(line, new VmTargets(manager, host, hostPolicy, VmServiceImpl.DEFAULT_STOP_TIMEOUT,
        CommandLines::json), output(stream), req.getPipefail(), timeout(req)));
  }

  /** A line across nodes: every stage through its node's Exec ({@link FleetLine}). */
  private static void runAcross(List<FleetLine.Step> steps, Fleet nodes, RunCommandLineRequest req,
      GuardedStream<RunCommandLineResponse> stream) {
    FleetLine.Connector connector = n -> {
      Nodes.Endpoint e = n == null ? nodes.selfEndpoint() : nodes.endpoint(n);
      return e.connect(n == null ? nodes.self() : n);
    };
    runOnItsThread(stream, () -> FleetLine.run(steps, connector, output(stream), req.getPipefail(), timeout(req)));
  }

  private static long timeout(RunCommandLineRequest req) {
    return req.getTimeoutSeconds() == 0 ? DEFAULT_LINE_TIMEOUT_SECONDS : req.getTimeoutSeconds();
  }

  private static PipelineRunner.Output output(GuardedStream<RunCommandLineResponse> stream) {
    return new PipelineRunner.Output() {
      @Override
      public void stdout(byte[] data) {
        stream.sendPaced(RunCommandLineResponse.newBuilder().setStdout(ByteString.copyFrom(data)).build());
      }

      @Override
      public void stderr(int stage, String vm, byte[] data) {
        stream.sendPaced(RunCommandLineResponse.newBuilder()
            .setStderr(StageStderr.newBuilder().setStage(stage + 1).setVm(vm).setData(ByteString.copyFrom(data))).build());
      }
    };
  }

  private interface LineBody {
    PipelineRunner.Result run() throws IOException, InterruptedException;
  }

  /** Runs the line on a thread of its own (it blocks until every stage ended); a caller that goes away cancels it. */
  private static void runOnItsThread(GuardedStream<RunCommandLineResponse> stream, LineBody body) {
    Thread t = new Thread(() -> {
      try {
        PipelineRunner.Result r = body.run();
        RunResult.Builder result = RunResult.newBuilder().setExitCode(r.exitCode()).addAllStageExitCodes(r.stageExits());
        if (r.failure() != null) {
          result.setFailure(r.failure());
        }
        stream.finish(RunCommandLineResponse.newBuilder().setResult(result).build());
      } catch (SecurityException e) {
        stream.fail(Status.PERMISSION_DENIED.withDescription(e.getMessage()).asRuntimeException());
      } catch (IllegalArgumentException e) {
        stream.fail(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      } catch (VmException e) {
        stream.fail(VmProtos.status(e));
      } catch (IOException e) {
        stream.fail(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        stream.fail(Status.CANCELLED.withDescription("interrupted").asRuntimeException());
      }
    }, "run-line");
    t.setDaemon(true);
    // A client that goes away (Ctrl-C) cancels every stage.
    stream.call().setOnCancelHandler(t::interrupt);
    t.start();
  }

  /**
   * A line for another node: that node's daemon runs it (without the node prefixes) and its
   * answers are passed on as they come; a caller that goes away cancels it there too.
   */
  private static void forward(NodeLines.Remote remote, Nodes.Endpoint node, Fleet fleet, RunCommandLineRequest req,
      StreamObserver<RunCommandLineResponse> out) {
    DaemonClient client;
    try {
      client = node.connect(remote.node());
    } catch (IOException e) {
      fleet.refreshSoon();
      out.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    GuardedStream<RunCommandLineResponse> stream = new GuardedStream<>(out);
    // Bounded like the line itself (its timeout, one hour by default), with room for the other
    // node to say why it ended; the caller's own deadline, when shorter, still applies (gRPC
    // carries it over from this call's context).
    long lineSeconds = req.getTimeoutSeconds() == 0 ? DEFAULT_LINE_TIMEOUT_SECONDS : req.getTimeoutSeconds();
    client.vmsAsync().withDeadlineAfter(lineSeconds + FORWARD_SLACK_SECONDS, TimeUnit.SECONDS).runCommandLine(req.toBuilder().setLine(remote.line()).build(),
        new ClientResponseObserver<RunCommandLineRequest, RunCommandLineResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<RunCommandLineRequest> call) {
            stream.call().setOnCancelHandler(() -> call.cancel("the caller went away", null));
          }

          @Override
          public void onNext(RunCommandLineResponse r) {
            stream.send(r);
          }

          @Override
          public void onError(Throwable t) {
            Status s = Status.fromThrowable(t);
            if (s.getCode() == Status.Code.UNAVAILABLE) {
              fleet.refreshSoon(); // the peer may have moved or gone
            }
            stream.fail(s.withDescription("node " + remote.node() + ": " + s.getDescription()).asRuntimeException());
            closeQuietly(client);
          }

          @Override
          public void onCompleted() {
            stream.complete();
            closeQuietly(client);
          }
        });
  }

  private static void closeQuietly(DaemonClient client) {
    Thread t = new Thread(() -> {
      try {
        client.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "node-client-close");
    t.setDaemon(true);
    t.start(); // not on the channel's own thread, which close waits for
  }

  /** {@code --info}: the VM as the API's JSON. */
  private static String json(VmView v) {
    try {
      return JsonFormat.printer().print(VmProtos.vm(v)) + "\n";
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }
}
