package dev.vmlet.client;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.VmServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The client side of the bidirectional Exec call, blocking: {@link #next} returns the program's
 * output as it comes, {@link #stdin} sends input (waiting while the call's window is full). One
 * response is requested at a time, so a slow reader holds the program back instead of filling
 * memory.
 */
public final class ExecClient implements AutoCloseable {
  private static final Object END = new Object();

  private final BlockingQueue<Object> responses = new LinkedBlockingQueue<>();
  private final Object ready = new Object();
  private volatile ClientCallStreamObserver<ExecRequest> call;
  /** The daemon ended the call: it will never be ready again, so a writer must not wait for it. */
  private volatile boolean callEnded;
  private boolean ended;

  private ExecClient() {}

  /**
   * Starts a program.
   *
   * @param start the first message: name and argv or shell, and the options
   */
  public static ExecClient start(VmServiceGrpc.VmServiceStub stub, ExecRequest start) {
    ExecClient c = new ExecClient();
    stub.exec(new ClientResponseObserver<ExecRequest, ExecResponse>() {
      @Override
      public void beforeStart(ClientCallStreamObserver<ExecRequest> s) {
        c.call = s;
        s.disableAutoRequestWithInitial(1);
        s.setOnReadyHandler(() -> {
          synchronized (c.ready) {
            c.ready.notifyAll();
          }
        });
      }

      @Override
      public void onNext(ExecResponse r) {
        c.responses.add(r);
      }

      @Override
      public void onError(Throwable t) {
        c.responses.add(t);
        c.endCall();
      }

      @Override
      public void onCompleted() {
        c.responses.add(END);
        c.endCall();
      }
    });
    c.call.onNext(start);
    if (!start.getStdin()) {
      c.call.onCompleted();
    }
    return c;
  }

  /**
   * The next response; null after the last.
   *
   * @throws StatusRuntimeException when the call failed
   */
  public ExecResponse next() throws InterruptedException {
    if (ended) {
      return null;
    }
    Object o = responses.take();
    if (o == END) {
      ended = true;
      return null;
    }
    if (o instanceof Throwable t) {
      ended = true;
      throw t instanceof StatusRuntimeException s ? s : Status.fromThrowable(t).asRuntimeException();
    }
    call.request(1);
    return (ExecResponse) o;
  }

  /** Sends stdin bytes; waits while the call cannot take more. */
  public void stdin(byte[] data, int off, int len) throws InterruptedException {
    awaitReady();
    call.onNext(ExecRequest.newBuilder().setStdinData(ByteString.copyFrom(data, off, len)).build());
  }

  /** Closes the program's stdin. */
  public void closeStdin() {
    call.onNext(ExecRequest.newBuilder().setStdinEof(true).build());
    call.onCompleted();
  }

  /** Tells a tty program its terminal's new size. */
  public void resize(int rows, int cols) {
    call.onNext(ExecRequest.newBuilder().setRows(rows).setCols(cols).build());
  }

  /** Kills the program; its exit follows with cancelled set. */
  public void cancel() {
    call.onNext(ExecRequest.newBuilder().setCancel(true).build());
  }

  private void endCall() {
    callEnded = true;
    synchronized (ready) {
      ready.notifyAll();
    }
  }

  /** @throws IllegalStateException when the call ended (the program exited and will read no more) */
  private void awaitReady() throws InterruptedException {
    synchronized (ready) {
      while (!call.isReady()) {
        if (callEnded) {
          throw new IllegalStateException("the exec ended; its program reads no more input");
        }
        ready.wait(100, 0);
      }
    }
  }

  /** Abandons the call (the daemon kills the program) unless it already ended. */
  @Override
  public void close() {
    if (!ended) {
      call.cancel("the client closed the exec", null);
    }
  }
}
