package dev.vmlet.api;

import com.google.protobuf.ByteString;
import dev.vmlet.at.PipelineRunner;
import dev.vmlet.common.at.AtParser;
import dev.vmlet.common.at.AtSyntaxException;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.RunCommandLineResponse;
import dev.vmlet.proto.v1.RunResult;
import dev.vmlet.proto.v1.StageStderr;
import dev.vmlet.vm.VmException;
import dev.vmlet.vm.VmManager;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;

/** RunCommandLine: parses a line of the @target language and runs it through the VMs' agents. */
final class CommandLines {
  private CommandLines() {}

  static void run(VmManager manager, dev.vmlet.host.HostAccess host, dev.vmlet.daemon.Nodes nodes, RunCommandLineRequest req,
      StreamObserver<RunCommandLineResponse> out) {
    Pipeline p;
    dev.vmlet.at.NodeLines.Remote remote;
    dev.vmlet.daemon.Nodes.Endpoint node = null;
    try {
      p = AtParser.parse(req.getLine());
      remote = dev.vmlet.at.NodeLines.remote(p, req.getLine());
      if (remote != null) {
        node = nodes.endpoint(remote.node());
      }
    } catch (IllegalArgumentException e) { // AtSyntaxException too
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    if (remote != null) {
      forward(remote, node, req, out);
      return;
    }
    GuardedStream<RunCommandLineResponse> stream = new GuardedStream<>(out).paced();
    dev.vmlet.security.Access.Caller caller = dev.vmlet.security.Access.CALLER.get(); // null when called without the interceptor
    // Its own thread: the run blocks until every stage ended.
    Thread t = new Thread(() -> {
      try {
        PipelineRunner.Result r = PipelineRunner.run(p, new VmTargets(manager, host, caller), new PipelineRunner.Output() {
          @Override
          public void stdout(byte[] data) {
            stream.sendPaced(RunCommandLineResponse.newBuilder().setStdout(ByteString.copyFrom(data)).build());
          }

          @Override
          public void stderr(int stage, String vm, byte[] data) {
            stream.sendPaced(RunCommandLineResponse.newBuilder()
                .setStderr(StageStderr.newBuilder().setStage(stage + 1).setVm(vm).setData(ByteString.copyFrom(data))).build());
          }
        }, req.getPipefail(), req.getTimeoutSeconds() == 0 ? 3600 : req.getTimeoutSeconds());
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
  private static void forward(dev.vmlet.at.NodeLines.Remote remote, dev.vmlet.daemon.Nodes.Endpoint node, RunCommandLineRequest req,
      StreamObserver<RunCommandLineResponse> out) {
    dev.vmlet.daemon.DaemonClient client;
    try {
      client = node.connect(remote.node());
    } catch (IOException e) {
      out.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    GuardedStream<RunCommandLineResponse> stream = new GuardedStream<>(out);
    client.vmsAsync().runCommandLine(req.toBuilder().setLine(remote.line()).build(),
        new io.grpc.stub.ClientResponseObserver<RunCommandLineRequest, RunCommandLineResponse>() {
          @Override
          public void beforeStart(io.grpc.stub.ClientCallStreamObserver<RunCommandLineRequest> call) {
            stream.call().setOnCancelHandler(() -> call.cancel("the caller went away", null));
          }

          @Override
          public void onNext(RunCommandLineResponse r) {
            stream.send(r);
          }

          @Override
          public void onError(Throwable t) {
            Status s = Status.fromThrowable(t);
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

  private static void closeQuietly(dev.vmlet.daemon.DaemonClient client) {
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

  /** The daemon's VMs as the targets of a line. */
  private record VmTargets(VmManager manager, dev.vmlet.host.HostAccess host, dev.vmlet.security.Access.Caller caller)
      implements dev.vmlet.at.Targets {
    @Override
    public dev.vmlet.agent.AgentLink agent(String vm) {
      if (!host.isHost(vm)) {
        return manager.agent(vm);
      }
      if (caller != null && !caller.role().allows(dev.vmlet.security.Role.ADMIN)) {
        throw new SecurityException("@" + vm + " (the daemon's host) needs the admin role; " + caller.name() + " is "
            + caller.role().label());
      }
      return host.link(vm);
    }

    @Override
    public java.util.List<String> select(String key, String value) {
      return manager.list().stream().filter(v -> value.equals(v.record().config().labels().get(key)))
          .map(v -> v.record().config().name()).sorted().toList();
    }

    @Override
    public String control(String vm, dev.vmlet.common.at.Control c) {
      if (host.isHost(vm)) {
        throw new IllegalArgumentException("@" + vm + " is the daemon's host, not a VM: --" + c.action() + " acts on VMs only");
      }
      switch (c.action()) {
        case "pause" -> manager.pause(vm);
        case "resume" -> manager.resume(vm);
        case "start" -> manager.start(vm);
        case "stop" -> manager.stop(vm, false, VmServiceImpl.DEFAULT_STOP_TIMEOUT);
        case "info" -> {
          return json(VmProtos.vm(manager.get(vm)));
        }
        case "snapshot" -> {
          return snapshot(vm, c);
        }
        default -> throw new IllegalArgumentException("unknown control --" + c.action());
      }
      return "";
    }

    private String snapshot(String vm, dev.vmlet.common.at.Control c) {
      switch (c.snapshotAction()) {
        case "save" -> manager.createSnapshot(vm, c.snapshotName());
        case "restore" -> manager.restoreSnapshot(vm, c.snapshotName());
        case "delete" -> manager.deleteSnapshot(vm, c.snapshotName());
        case "list" -> {
          StringBuilder b = new StringBuilder();
          for (dev.vmlet.vm.SnapshotInfo si : manager.listSnapshots(vm)) {
            b.append(si.name()).append('\t').append(java.time.Instant.ofEpochMilli(si.createdAtMs()))
                .append('\t').append(si.vmStateBytes()).append('\n');
          }
          return b.toString();
        }
        default -> throw new IllegalArgumentException("unknown --snapshot " + c.snapshotAction());
      }
      return "";
    }

    private static String json(com.google.protobuf.MessageOrBuilder m) {
      try {
        return com.google.protobuf.util.JsonFormat.printer().print(m) + "\n";
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalStateException(e);
      }
    }
  }
}
