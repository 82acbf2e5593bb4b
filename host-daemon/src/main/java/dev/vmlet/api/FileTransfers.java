package dev.vmlet.api;

import com.google.protobuf.ByteString;
import dev.vmlet.agent.AgentFiles;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.PullFileRequest;
import dev.vmlet.proto.v1.PullFileResponse;
import dev.vmlet.proto.v1.PushFileRequest;
import dev.vmlet.vm.VmManager;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import dev.vmlet.agent.AgentException;

/**
 * PushFile and PullFile: gRPC streams on one side, the agent link on the other. Memory is bounded
 * both ways: an upload asks the client for more only as the guest grants credit ({@link
 * PushCall}), and a download waits, on its own thread, for the client's window before it takes
 * more from the link.
 */
final class FileTransfers {
  private static final Duration GUEST_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration CLIENT_WINDOW_WAIT = Duration.ofSeconds(60);

  private FileTransfers() {}

  /** PushFile: see {@link PushCall}; no gRPC thread waits for the guest. */
  static StreamObserver<PushFileRequest> push(VmManager manager, StreamObserver<FileTransferResult> out) {
    return PushCall.start(manager::agent, out);
  }

  static void pull(VmManager manager, PullFileRequest req, StreamObserver<PullFileResponse> out) {
    ServerCallStreamObserver<PullFileResponse> call = (ServerCallStreamObserver<PullFileResponse>) out;
    Object ready = new Object();
    call.setOnReadyHandler(() -> {
      synchronized (ready) {
        ready.notifyAll();
      }
    });
    // On its own thread: the pull blocks on the link and on the client's window, and the call's
    // executor must stay free to deliver the client's flow-control (onReady) events meanwhile.
    Thread t = new Thread(() -> pullBlocking(manager, req, call, ready), "pull-" + req.getName());
    t.setDaemon(true);
    t.start();
  }

  private static void pullBlocking(VmManager manager, PullFileRequest req, ServerCallStreamObserver<PullFileResponse> call,
      Object ready) {
    try {
      if (!req.getPath().startsWith("/")) {
        throw new IllegalArgumentException("path must be absolute in the guest, got '" + req.getPath() + "'");
      }
      AgentLink link = manager.agent(req.getName());
      OutputStream sink = new OutputStream() {
        @Override
        public void write(int b) throws IOException {
          write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          long deadline = System.nanoTime() + CLIENT_WINDOW_WAIT.toNanos();
          synchronized (ready) {
            while (!call.isReady()) {
              if (call.isCancelled()) {
                throw new IOException("the client cancelled");
              }
              long left = deadline - System.nanoTime();
              if (left <= 0) {
                throw new IOException("the client took no data for " + CLIENT_WINDOW_WAIT.toSeconds() + " s");
              }
              try {
                ready.wait(Math.max(1, Math.min(1000, left / 1_000_000)));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
              }
            }
          }
          call.onNext(PullFileResponse.newBuilder().setData(ByteString.copyFrom(b, off, len)).build());
        }
      };
      FileDone done = AgentFiles.pull(link, req.getPath(), req.getOffset(), sink,
          info -> call.onNext(PullFileResponse.newBuilder().setInfo(AgentReplies.fileInfo(info)).build()), GUEST_TIMEOUT);
      call.onNext(PullFileResponse.newBuilder()
          .setDone(FileTransferResult.newBuilder().setSize(done.getSize()).setSha256(done.getSha256())).build());
      call.onCompleted();
    } catch (IOException | RuntimeException e) {
      if (!call.isCancelled()) {
        call.onError(status(e));
      }
    }
  }

  /** A failure as the gRPC status the client gets: the agent's code when it gave one. */
  static RuntimeException status(Throwable e) {
    if (e instanceof AgentException a) {
      return AgentStatus.of(a).asRuntimeException();
    }
    if (e instanceof IllegalArgumentException) {
      return Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException();
    }
    if (e instanceof IOException) {
      return Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException();
    }
    return VmProtos.status(e instanceof RuntimeException re ? re : new RuntimeException(e));
  }
}
