package dev.vmlet.api;

import com.google.protobuf.ByteString;
import dev.vmlet.agent.AgentFiles;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import dev.vmlet.proto.v1.PullFileRequest;
import dev.vmlet.proto.v1.PullFileResponse;
import dev.vmlet.proto.v1.PushFileHeader;
import dev.vmlet.proto.v1.PushFileRequest;
import dev.vmlet.vm.VmManager;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * PushFile and PullFile: gRPC streams on one side, the agent link on the other. Memory is bounded
 * both ways: an upload passes through a 1 MiB pipe that blocks the gRPC thread when full, and a
 * download waits for the client's window before it takes more from the link.
 */
final class FileTransfers {
  private static final Duration GUEST_TIMEOUT = Duration.ofMinutes(5);
  private static final Duration CLIENT_WINDOW_WAIT = Duration.ofSeconds(60);

  private FileTransfers() {}

  static StreamObserver<PushFileRequest> push(VmManager manager, StreamObserver<FileTransferResult> out) {
    return new StreamObserver<>() {
      private PipedOutputStream pipe;
      private volatile boolean clientFailed;
      private volatile String sha256;
      private CompletableFuture<FileDone> result;
      private volatile long resumedFrom;

      @Override
      public void onNext(PushFileRequest r) {
        try {
          switch (r.getPayloadCase()) {
            case HEADER -> start(r.getHeader());
            case DATA -> {
              requireStarted();
              pipe.write(r.getData().toByteArray());
            }
            case SHA256 -> sha256 = r.getSha256();
            default -> throw new IllegalArgumentException("empty message");
          }
        } catch (IOException | RuntimeException e) {
          // A pipe closed under us means the guest side failed first: report its reason, not ours.
          fail(result != null && result.isCompletedExceptionally() ? reason(result) : e);
        }
      }

      private void start(PushFileHeader h) throws IOException {
        if (pipe != null) {
          throw new IllegalArgumentException("the header comes once, first");
        }
        if (!h.getPath().startsWith("/")) {
          throw new IllegalArgumentException("path must be absolute in the guest, got '" + h.getPath() + "'");
        }
        AgentLink link = manager.agent(h.getName());
        PipedInputStream in = new PipedInputStream(1 << 20);
        pipe = new PipedOutputStream(in);
        InputStream source = new InputStream() {
          @Override
          public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
          }

          @Override
          public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            if (n < 0 && clientFailed) {
              throw new IOException("the client went away before the end of the file");
            }
            return n;
          }
        };
        FileWriteStart.Builder sb = FileWriteStart.newBuilder().setPath(h.getPath()).setMode(h.getMode())
            .setMtimeUnixMs(h.getMtimeUnixMs()).setMkdirs(h.getMkdirs()).setDirectory(h.getDirectory()).setResume(h.getResume());
        if (h.hasUid()) {
          sb.setUid(h.getUid());
        }
        if (h.hasGid()) {
          sb.setGid(h.getGid());
        }
        FileWriteStart start = sb.build();
        result = CompletableFuture.supplyAsync(() -> {
          try {
            return AgentFiles.push(link, start, source, () -> sha256, GUEST_TIMEOUT, n -> resumedFrom = n);
          } catch (IOException e) {
            throw new java.util.concurrent.CompletionException(e);
          } finally {
            try {
              in.close(); // a writer blocked on a full pipe gets an error instead of waiting forever
            } catch (IOException ignored) {
              // closing
            }
          }
        });
      }

      private void requireStarted() {
        if (pipe == null) {
          throw new IllegalArgumentException("the first message must be the header (VM name and guest path)");
        }
      }

      @Override
      public void onError(Throwable t) {
        clientFailed = true;
        closePipe();
      }

      @Override
      public void onCompleted() {
        try {
          requireStarted();
          closePipe();
        } catch (RuntimeException e) {
          fail(e);
          return;
        }
        // Not blocking the call's executor while the guest finishes.
        result.whenComplete((done, e) -> {
          if (e != null) {
            fail(e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e);
          } else {
            out.onNext(FileTransferResult.newBuilder().setSize(done.getSize()).setSha256(done.getSha256())
                .setResumedFrom(resumedFrom).build());
            out.onCompleted();
          }
        });
      }

      private void closePipe() {
        if (pipe != null) {
          try {
            pipe.close();
          } catch (IOException ignored) {
            // the reader is gone already
          }
        }
      }

      private boolean failed;

      private synchronized void fail(Throwable e) {
        clientFailed = true;
        closePipe();
        if (!failed) {
          failed = true;
          out.onError(status(e));
        }
      }
    };
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

  private static Throwable reason(CompletableFuture<?> failed) {
    try {
      failed.join();
      return new IllegalStateException("not failed");
    } catch (java.util.concurrent.CompletionException e) {
      return e.getCause() != null ? e.getCause() : e;
    }
  }

  private static RuntimeException status(Throwable e) {
    if (e instanceof dev.vmlet.agent.AgentException a) {
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
