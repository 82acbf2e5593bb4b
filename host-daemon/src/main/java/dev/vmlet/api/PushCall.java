package dev.vmlet.api;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.GuestPush;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import dev.vmlet.proto.v1.PushFileHeader;
import dev.vmlet.proto.v1.PushFileRequest;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * One PushFile call, driven by the guest's credit instead of a blocking pipe: the call asks the
 * client for one more message each time it starts sending one to the guest (gRPC's manual flow
 * control, {@code disableAutoRequest} and {@code request(1)}), so a slow guest holds back the
 * client through HTTP/2 flow control and no gRPC thread ever waits for it.
 *
 * <p>Messages go through a queue to a pump that runs on a shared pool, one run at a time per call;
 * a run sends what the guest's credit allows and returns, and runs again when the guest grants more
 * ({@link GuestPush#tryWrite}), when the next message comes, or when the call ends. So the daemon
 * holds, per push, the message being sent and the next one (2 x 256 KiB from {@code vmlet cp}, at
 * most 2 x gRPC's 4 MiB message limit) on top of what the transport holds for the stream (its
 * HTTP/2 window, 1 MiB by default); the guest holds at most its 256 KiB window. A cancelled or failed push leaves nothing at the
 * destination: the guest is told to drop it, and it deletes what it wrote.
 */
final class PushCall implements StreamObserver<PushFileRequest> {
  /** How long the guest may take no data, or take to answer the end, before the push fails. */
  static final Duration GUEST_TIMEOUT = Duration.ofMinutes(5);
  /** The pump's runs only send what credit allows, never wait for it: a cached pool suffices. */
  private static final Executor PUMPS = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "push-pump");
    t.setDaemon(true);
    return t;
  });
  /** How often a push that waits checks whether it has waited too long. */
  private static final Duration WATCH_PERIOD = Duration.ofSeconds(30);
  private static final Object END = new Object();

  private final Function<String, AgentLink> agents;
  private final GuardedStream<FileTransferResult> out;
  private final Executor pumps;
  private final Queue<Object> inbox = new ConcurrentLinkedQueue<>();
  private final AtomicInteger runs = new AtomicInteger();
  private volatile Throwable clientFailure;
  // Only the pump touches what follows (one run at a time; the counter orders the runs).
  private GuestPush push;
  private boolean resume;
  private long resumedFrom = -1;
  private String sha256;
  private byte[] data;
  private int dataAt;
  private Object current;
  private volatile boolean finished;
  private volatile long progressNanos = System.nanoTime();

  private PushCall(Function<String, AgentLink> agents, StreamObserver<FileTransferResult> out, Executor pumps) {
    this.agents = agents;
    this.out = new GuardedStream<>(out);
    this.pumps = pumps;
  }

  /**
   * Takes over a PushFile call; must be called from the service method itself, which is when gRPC
   * lets a call turn its automatic requests off.
   *
   * @param agents the agent link of a VM by name (throws as {@code VmManager.agent} does)
   */
  static StreamObserver<PushFileRequest> start(Function<String, AgentLink> agents, StreamObserver<FileTransferResult> out) {
    return start(agents, out, PUMPS);
  }

  static StreamObserver<PushFileRequest> start(Function<String, AgentLink> agents, StreamObserver<FileTransferResult> out,
      Executor pumps) {
    PushCall call = new PushCall(agents, out, pumps);
    ServerCallStreamObserver<FileTransferResult> c = call.out.call();
    c.disableAutoRequest();
    c.request(1); // the header
    call.watch();
    return call;
  }

  /** Wakes the pump now and then while the push is on, so that a guest that stalls is noticed. */
  private void watch() {
    CompletableFuture.delayedExecutor(WATCH_PERIOD.toMillis(), TimeUnit.MILLISECONDS).execute(() -> {
      if (!finished) {
        schedule();
        watch();
      }
    });
  }

  /** The pump waits for the guest (credit, its resume offset): for at most {@link #GUEST_TIMEOUT}. */
  private void checkGuest() throws IOException {
    if (System.nanoTime() - progressNanos > GUEST_TIMEOUT.toNanos()) {
      throw new IOException("the guest took no data for " + GUEST_TIMEOUT.toSeconds() + " s; the push was cancelled");
    }
  }

  @Override
  public void onNext(PushFileRequest r) {
    inbox.add(r);
    schedule();
  }

  @Override
  public void onError(Throwable t) {
    clientFailure = new IOException("the client went away before the end of the file");
    schedule();
  }

  @Override
  public void onCompleted() {
    inbox.add(END);
    schedule();
  }

  /** Runs the pump unless a run is on; a run that is on then runs once more. */
  private void schedule() {
    if (runs.getAndIncrement() == 0) {
      pumps.execute(this::drain);
    }
  }

  private void drain() {
    int missed = 1;
    do {
      pump();
      missed = runs.addAndGet(-missed);
    } while (missed != 0);
  }

  private void pump() {
    if (finished) {
      return;
    }
    try {
      if (clientFailure != null) {
        throw clientFailure;
      }
      if (push != null && push.result().isCompletedExceptionally()) {
        push.result().join(); // the guest ended the push: its reason
      }
      while (true) {
        if (current == null) {
          if ((current = inbox.poll()) == null) {
            return;
          }
          // The next message comes while this one goes to the guest: no gap between them.
          out.request(1);
        }
        if (current == END) {
          end();
          return;
        }
        PushFileRequest r = (PushFileRequest) current;
        switch (r.getPayloadCase()) {
          case HEADER -> open(r.getHeader());
          case DATA -> {
            if (!send(r)) {
              checkGuest();
              return; // the guest's credit (or its resume offset) brings the pump back
            }
          }
          case SHA256 -> sha256 = r.getSha256();
          default -> throw new IllegalArgumentException("empty message");
        }
        current = null;
        data = null;
        progressNanos = System.nanoTime();
      }
    } catch (Throwable e) {
      fail(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
    }
  }

  private void open(PushFileHeader h) throws IOException {
    if (push != null) {
      throw new IllegalArgumentException("the header comes once, first");
    }
    if (!h.getPath().startsWith("/")) {
      throw new IllegalArgumentException("path must be absolute in the guest, got '" + h.getPath() + "'");
    }
    FileWriteStart.Builder sb = FileWriteStart.newBuilder().setPath(h.getPath()).setMode(h.getMode())
        .setMtimeUnixMs(h.getMtimeUnixMs()).setMkdirs(h.getMkdirs()).setDirectory(h.getDirectory()).setResume(h.getResume());
    if (h.hasUid()) {
      sb.setUid(h.getUid());
    }
    if (h.hasGid()) {
      sb.setGid(h.getGid());
    }
    push = GuestPush.open(agents.apply(h.getName()), sb.build(), this::schedule);
    resume = h.getResume();
    push.result().whenComplete((done, e) -> schedule()); // a guest that fails early wakes the pump
    push.kept().thenRun(this::schedule);
  }

  /** Sends what credit allows of one data message; true once all of it went (or was skipped). */
  private boolean send(PushFileRequest r) throws IOException {
    if (push == null) {
      throw new IllegalArgumentException("the first message must be the header (VM name and guest path)");
    }
    if (data == null) {
      data = r.getData().toByteArray();
      dataAt = 0;
    }
    if (!skipKept()) {
      return false;
    }
    int n = push.tryWrite(data, dataAt, data.length - dataAt);
    dataAt += n;
    if (n > 0) {
      progressNanos = System.nanoTime();
    }
    return dataAt == data.length;
  }

  /**
   * With resume, the bytes the guest kept are digested, not sent: false until the guest has said
   * how many it kept (the kept offset brings the pump back).
   */
  private boolean skipKept() {
    if (!resume) {
      return true;
    }
    if (!push.kept().isDone()) {
      return false;
    }
    long kept = push.kept().join();
    if (resumedFrom < 0) {
      resumedFrom = kept;
      progressNanos = System.nanoTime();
    }
    int skip = (int) Math.min(data.length - dataAt, Math.max(0, kept - push.size()));
    push.skip(data, dataAt, skip);
    dataAt += skip;
    return true;
  }

  private void end() throws IOException {
    if (push == null) {
      throw new IllegalArgumentException("the first message must be the header (VM name and guest path)");
    }
    if (resume && !push.kept().isDone()) {
      checkGuest();
      return; // the kept offset brings the pump back
    }
    if (resume && push.size() < push.kept().join()) {
      push.cancel("the source is shorter than what the guest kept");
      throw new IOException("the guest kept " + push.kept().join() + " bytes of an earlier push, but the source has only "
          + push.size() + "; push it again without resume");
    }
    finished = true;
    long from = Math.max(0, resumedFrom);
    push.end(sha256).orTimeout(GUEST_TIMEOUT.toSeconds(), TimeUnit.SECONDS).whenComplete((FileDone done, Throwable e) -> {
      if (e == null) {
        out.finish(FileTransferResult.newBuilder().setSize(done.getSize()).setSha256(done.getSha256()).setResumedFrom(from).build());
      } else {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof TimeoutException) {
          push.cancel("timed out");
          cause = new IOException("the guest did not finish the push within " + GUEST_TIMEOUT.toSeconds() + " s");
        }
        out.fail(FileTransfers.status(cause));
      }
    });
  }

  private void fail(Throwable e) {
    finished = true;
    if (push != null && !push.result().isDone()) {
      push.cancel(clientFailure != null ? "the client went away" : "the push failed: " + e.getMessage());
    }
    out.fail(FileTransfers.status(e));
  }
}
