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

  static void run(VmManager manager, RunCommandLineRequest req, StreamObserver<RunCommandLineResponse> out) {
    Pipeline p;
    try {
      p = AtParser.parse(req.getLine());
    } catch (AtSyntaxException e) {
      out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    GuardedStream<RunCommandLineResponse> stream = new GuardedStream<>(out);
    // Its own thread: the run blocks until every stage ended.
    Thread t = new Thread(() -> {
      try {
        PipelineRunner.Result r = PipelineRunner.run(p, manager::agent, new PipelineRunner.Output() {
          @Override
          public void stdout(byte[] data) {
            stream.send(RunCommandLineResponse.newBuilder().setStdout(ByteString.copyFrom(data)).build());
          }

          @Override
          public void stderr(int stage, String vm, byte[] data) {
            stream.send(RunCommandLineResponse.newBuilder()
                .setStderr(StageStderr.newBuilder().setStage(stage + 1).setVm(vm).setData(ByteString.copyFrom(data))).build());
          }
        }, req.getPipefail(), req.getTimeoutSeconds() == 0 ? 3600 : req.getTimeoutSeconds());
        RunResult.Builder result = RunResult.newBuilder().setExitCode(r.exitCode()).addAllStageExitCodes(r.stageExits());
        if (r.failure() != null) {
          result.setFailure(r.failure());
        }
        stream.finish(RunCommandLineResponse.newBuilder().setResult(result).build());
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
    t.start();
  }
}
