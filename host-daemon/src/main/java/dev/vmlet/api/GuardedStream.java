package dev.vmlet.api;

import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/**
 * A server stream that several threads may write to (link readers, event sources): calls are
 * serialised, dropped once the client cancelled, and nothing follows the end of the stream.
 */
final class GuardedStream<T> {
  private final ServerCallStreamObserver<T> call;
  private boolean ended;

  @SuppressWarnings("unchecked")
  GuardedStream(StreamObserver<T> out) {
    this.call = (ServerCallStreamObserver<T>) out;
  }

  ServerCallStreamObserver<T> call() {
    return call;
  }

  private final Object readiness = new Object();

  /**
   * Lets {@link #sendPaced} wait for the client. Only during the service method's own call, as
   * gRPC requires of an on-ready handler.
   */
  GuardedStream<T> paced() {
    call.setOnReadyHandler(() -> {
      synchronized (readiness) {
        readiness.notifyAll();
      }
    });
    return this;
  }

  /**
   * Sends once the client can take it (gRPC's outbound buffer is below its limit), so a slow
   * client slows the sender instead of growing the daemon's memory. Needs {@link #paced}.
   */
  void sendPaced(T message) {
    synchronized (readiness) {
      while (!call.isReady() && !call.isCancelled()) {
        try {
          readiness.wait(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
    send(message);
  }

  /** Asks the client for {@code n} more messages (a call whose automatic requests are off). */
  synchronized void request(int n) {
    if (!ended && !call.isCancelled()) {
      call.request(n);
    }
  }

  synchronized void send(T message) {
    if (!ended && !call.isCancelled()) {
      call.onNext(message);
    }
  }

  /** Sends a last message and completes. */
  synchronized void finish(T last) {
    send(last);
    complete();
  }

  synchronized void complete() {
    if (!ended && !call.isCancelled()) {
      call.onCompleted();
    }
    ended = true;
  }

  synchronized void fail(Throwable t) {
    if (!ended && !call.isCancelled()) {
      call.onError(t);
    }
    ended = true;
  }
}
