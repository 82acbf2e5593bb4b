package dev.vmlet.api;

import com.google.protobuf.ByteString;
import dev.vmlet.agent.AgentException;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.StreamError;
import dev.vmlet.vm.VmManager;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.logging.Logger;

/**
 * The bidirectional Exec call: the first request starts the program, later ones carry stdin or a
 * cancel; output goes back as the agent sends it. Credit for output returns to the agent only once
 * the client's window has room (so a client that stops reading stops the program, not the daemon's
 * memory); stdin waits for the agent's credit before the next request is taken.
 */
final class ExecCalls {
  private static final Logger LOG = Logger.getLogger(ExecCalls.class.getName());
  /** Logs each exec's hops in the daemon (docs/benchmarks.md, "the exec round trip, hop by hop"). */
  private static final boolean TRACE = Boolean.getBoolean("vmlet.trace.hops");

  private ExecCalls() {}

  static StreamObserver<ExecRequest> exec(VmManager manager, StreamObserver<ExecResponse> out) {
    return new Call(manager, new GuardedStream<>(out));
  }

  private static final class Call implements StreamObserver<ExecRequest>, ExecListener {
    private final VmManager manager;
    private final GuardedStream<ExecResponse> stream;
    private AgentLink link;
    private int id = -1;
    private long pendingCredit;
    private boolean stdinClosed;
    private volatile boolean finished;
    /**
     * When (System.nanoTime) the call's first message came in, its ExecStart was written and its
     * ExecExit read; only with {@code -Dvmlet.trace.hops=true} (docs/benchmarks.md), else 0.
     */
    private volatile long callInNanos;
    private volatile long writtenNanos;
    private volatile String vmName;
    /** With the trace: output frames passed on, and grants held back because the client's window was full. */
    private int outFrames;
    private int heldGrants;

    Call(VmManager manager, GuardedStream<ExecResponse> stream) {
      this.manager = manager;
      this.stream = stream;
      stream.call().setOnReadyHandler(this::returnCredit);
      stream.call().setOnCancelHandler(() -> {
        if (!finished) {
          cancelProgram(); // the client went away: like a closed SSH session, the program goes too
        }
      });
    }

    @Override
    public void onNext(ExecRequest r) {
      try {
        if (link == null) {
          start(r);
          return;
        }
        if (r.getCancel()) {
          link.execCancel(id);
        }
        if (r.getRows() > 0 && r.getCols() > 0) {
          link.execResize(id, r.getRows(), r.getCols());
        }
        if (!r.getStdinData().isEmpty() || r.getStdinEof()) {
          if (stdinClosed) {
            throw Status.INVALID_ARGUMENT.withDescription("stdin was closed already").asRuntimeException();
          }
          byte[] data = r.getStdinData().toByteArray();
          int off = 0;
          do { // in frames the agent's window takes; an empty eof-only message is one frame
            int n = Math.min(32 * 1024, data.length - off);
            off += n;
            link.execInput(id, data, off - n, n, off >= data.length && r.getStdinEof());
          } while (off < data.length);
          stdinClosed = r.getStdinEof();
        }
      } catch (IOException e) {
        stream.fail(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
      } catch (RuntimeException e) {
        stream.fail(VmProtos.status(e));
        cancelProgram();
      }
    }

    private void start(ExecRequest r) throws IOException {
      if (TRACE) {
        callInNanos = System.nanoTime();
        vmName = r.getName();
      }
      if (r.getArgvCount() == 0 && r.getShell().isEmpty()) {
        throw Status.INVALID_ARGUMENT.withDescription("the first message must name a program (argv) or a shell line").asRuntimeException();
      }
      if (r.getArgvCount() > 0 && !r.getShell().isEmpty()) {
        throw Status.INVALID_ARGUMENT.withDescription("give argv or shell, not both").asRuntimeException();
      }
      AgentLink l = manager.agent(r.getName());
      ExecStart start = ExecStart.newBuilder()
          .addAllArgv(r.getArgvList()).setShell(r.getShell())
          .putAllEnv(r.getEnvMap())
          .setWorkingDir(r.getWorkingDir())
          .setTimeoutSeconds(r.getTimeoutSeconds())
          .setUser(r.getUser())
          .setStdin(r.getStdin())
          .setMergeOutput(r.getMergeOutput())
          .setTty(r.getTty()).setRows(r.getRows()).setCols(r.getCols())
          .build();
      synchronized (this) {
        link = l;
      }
      int stream = l.exec(start, this);
      if (TRACE) {
        writtenNanos = System.nanoTime();
      }
      synchronized (this) {
        id = stream;
      }
      stdinClosed = !r.getStdin();
      returnCredit();
    }

    private void cancelProgram() {
      AgentLink l;
      int stream;
      synchronized (this) {
        l = link;
        stream = id;
      }
      if (l != null && stream >= 0) {
        try {
          l.execCancel(stream);
        } catch (IOException e) {
          // the link is gone: the agent drops the session's programs itself
        }
      }
    }

    @Override
    public void onError(Throwable t) {
      if (!finished) {
        cancelProgram();
      }
    }

    @Override
    public void onCompleted() {
      // Half-close: stdin ends, if it was open.
      if (link != null && !stdinClosed) {
        try {
          link.execInput(id, new byte[0], 0, 0, true);
          stdinClosed = true;
        } catch (IOException e) {
          // the program ended already
        }
      }
    }

    // ExecListener: on the link's reader thread.

    @Override
    public boolean returnsCredit() {
      return true;
    }

    @Override
    public void stdout(byte[] data) {
      stream.send(ExecResponse.newBuilder().setStdout(ByteString.copyFrom(data)).build());
      owe(data.length);
    }

    @Override
    public void stderr(byte[] data) {
      stream.send(ExecResponse.newBuilder().setStderr(ByteString.copyFrom(data)).build());
      owe(data.length);
    }

    private void owe(int n) {
      synchronized (this) {
        pendingCredit += n;
        outFrames++;
      }
      returnCredit();
    }

    /** Gives the agent its credit back once the client can take more. */
    private void returnCredit() {
      AgentLink l;
      int stream;
      long n;
      synchronized (this) {
        if (link == null || id < 0 || pendingCredit == 0) {
          return;
        }
        if (!stream().call().isReady()) {
          heldGrants++;
          return;
        }
        l = link;
        stream = id;
        n = pendingCredit;
        pendingCredit = 0;
      }
      l.consumed(stream, (int) n);
    }

    private GuardedStream<ExecResponse> stream() {
      return stream;
    }

    @Override
    public void exit(ExecExit exit) {
      long read = TRACE ? System.nanoTime() : 0;
      finished = true;
      stream.finish(ExecResponse.newBuilder().setExit(AgentReplies.exit(exit)).build());
      if (TRACE) {
        long out = System.nanoTime();
        LOG.info("hops exec VM " + vmName + " stream " + id + ": frame-written " + (writtenNanos - callInNanos) / 1000 + ", reply-read "
            + (read - callInNanos) / 1000 + ", reply-out " + (out - callInNanos) / 1000 + " (us since the call came in); output frames "
            + outFrames + ", grants held for the client " + heldGrants);
      }
    }

    @Override
    public void failed(String reason) {
      finished = true;
      stream.fail(Status.UNAVAILABLE.withDescription(reason).asRuntimeException());
    }

    @Override
    public void failed(StreamError error) {
      finished = true;
      stream.fail(AgentStatus.of(new AgentException(error)).asRuntimeException());
    }
  }
}
