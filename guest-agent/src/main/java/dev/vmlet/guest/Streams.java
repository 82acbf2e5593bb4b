package dev.vmlet.guest;

import dev.vmlet.common.flow.ReceiveWindow;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.StreamError;
import dev.vmlet.proto.agent.v1.WindowUpdate;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.IntFunction;
import java.util.logging.Logger;

/**
 * The requests in flight of the current session, by the stream id the host gave them, with their
 * credit both ways. A request opens a stream only once the {@link Policy} allows it (a denied one
 * is answered with PERMISSION_DENIED naming the rule). A stream ends when its work ends, when the
 * host drops it (a StreamError from the host), when the host sends more than its window, or when
 * the session ends; then its program is killed and its push deleted (kept for a resume when the
 * session ended). Frames on a stream that is not open are dropped.
 */
final class Streams {
  private static final Logger LOG = Logger.getLogger(Streams.class.getName());

  /** One request in flight: where its answers go, its credit both ways and how to stop it. */
  static final class AgentStream {
    // The sink of the session the stream was opened in, never the current one: a grant for stdin
    // an exec's feeder consumed after its session ended must not reach the next session.
    final FrameSink sink;
    final SendWindow send = new SendWindow();
    final ReceiveWindow receive = new ReceiveWindow();
    volatile ExecRunner exec;

    AgentStream(FrameSink sink) {
      this.sink = sink;
    }
  }

  private final Map<Integer, AgentStream> open = new ConcurrentHashMap<>();
  private final Policy policy;
  private final IntFunction<FrameSink> sinks;
  private final FilePushes pushes;
  private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "agent-worker");
    t.setDaemon(true);
    return t;
  });

  /**
   * @param sinks the sink of a stream in the session current when it is asked for
   * @param pushes the pushes in progress, which end with their streams
   */
  Streams(Policy policy, IntFunction<FrameSink> sinks, FilePushes pushes) {
    this.policy = policy;
    this.sinks = sinks;
    this.pushes = pushes;
  }

  /** Where answers on stream {@code id} go, for as long as the current session lasts. */
  FrameSink sink(int id) {
    return sinks.apply(id);
  }

  /** Whether the policy allows the operation; if not, the host is told why on the stream. */
  boolean allowed(int id, Policy.Operation op) {
    return allowed(id, policy.check(op));
  }

  /** Whether the policy allows the operation on {@code path}; if not, the host is told why on the stream. */
  boolean allowed(int id, Policy.Operation op, Path path) {
    return allowed(id, policy.check(op, path));
  }

  private boolean allowed(int id, Optional<String> denied) {
    if (denied.isEmpty()) {
      return true;
    }
    LOG.warning("denied on stream " + id + ": " + denied.get());
    sink(id).sendOrLog(Frame.newBuilder().setStreamId(id)
        .setError(StreamError.newBuilder().setCode(StreamError.Code.PERMISSION_DENIED).setMessage("denied: " + denied.get())).build());
    return false;
  }

  AgentStream open(int id) {
    AgentStream s = new AgentStream(sink(id));
    open.put(id, s);
    return s;
  }

  /** The open stream {@code id}; null when the host did not open it or it has ended. */
  AgentStream get(int id) {
    return open.get(id);
  }

  void remove(int id) {
    open.remove(id);
  }

  /** Ends stream {@code id} if it is still {@code s} (not a later stream the host opened with the same id). */
  void remove(int id, AgentStream s) {
    open.remove(id, s);
  }


  /** Returns credit for consumed bytes, batched. */
  void consumed(int id, AgentStream s, int n) {
    int grant = s.receive.consumed(n);
    if (grant > 0) {
      s.sink.sendOrLog(Frame.newBuilder().setStreamId(id).setWindowUpdate(WindowUpdate.newBuilder().setBytes(grant)).build());
    }
  }

  /** The host sent more than its window: a broken or hostile host; the stream fails. */
  void overrun(int id, AgentStream s) {
    open.remove(id);
    stop(s, "flow control violated");
    pushes.abort(id);
    s.sink.sendOrLog(Frame.newBuilder().setStreamId(id).setError(StreamError.newBuilder().setCode(StreamError.Code.RESOURCE_EXHAUSTED)
        .setMessage("the host sent more than its flow-control window (" + SendWindow.INITIAL + " bytes)")).build());
  }

  /** WindowUpdate: the host grants credit for what the stream sends. */
  void onWindowUpdate(Frame f) {
    AgentStream s = open.get(f.getStreamId());
    if (s != null) {
      s.send.grant(f.getWindowUpdate().getBytes());
    }
  }

  /** StreamError from the host: it drops the stream (a cancelled push, a client that went away). */
  void onHostDrop(Frame f) {
    int id = f.getStreamId();
    AgentStream s = open.remove(id);
    if (s != null) {
      stop(s, "the host dropped the stream: " + f.getError().getMessage());
    }
    pushes.abort(id);
  }

  /**
   * The session ended: every stream is dropped, and unfinished pushes are kept for a resume. This
   * takes them out of the maps at once, which is quick and blocks on nothing, so the agent does it
   * under its session lock, before a Hello of the next session can go out; {@link Ended#stop} then
   * stops them. Stopping them after that Hello once cancelled an exec the next session had just
   * started (SessionProtocolTest under load).
   */
  Ended detachAll() {
    List<AgentStream> streams = new ArrayList<>();
    for (Integer id : open.keySet()) {
      AgentStream s = open.remove(id);
      if (s != null) {
        streams.add(s);
      }
    }
    return new Ended(streams, pushes.detachAll());
  }

  /** The streams and pushes of a session that ended, taken out of the maps, not yet stopped. */
  static final class Ended {
    private final List<AgentStream> streams;
    private final Runnable pushes;

    private Ended(List<AgentStream> streams, Runnable pushes) {
      this.streams = streams;
      this.pushes = pushes;
    }

    /** Cancels their programs and ends their sends; keeps the unfinished pushes for a resume. */
    void stop(String reason) {
      streams.forEach(s -> Streams.stop(s, reason));
      pushes.run();
    }
  }

  private static void stop(AgentStream s, String reason) {
    s.send.close(reason);
    if (s.exec != null) {
      s.exec.cancel();
    }
  }

  /**
   * Runs a stream's work on a worker; the stream ends with the work (unless a new session has
   * opened the id since).
   */
  void runThenEnd(int id, AgentStream s, Runnable work) {
    submit(() -> {
      try {
        work.run();
      } finally {
        open.remove(id, s);
      }
    });
  }

  /** Runs a request's work off the reader thread; dropped once the agent is closing. */
  void submit(Runnable work) {
    try {
      workers.execute(work);
    } catch (RejectedExecutionException e) {
      if (!workers.isShutdown()) {
        throw e;
      }
    }
  }

  /** The agent is closing: running work is interrupted, new work dropped. */
  void shutdown() {
    // A program's wait may be in native code, which an interrupt does not end: its kill does.
    open.values().forEach(s -> {
      ExecRunner r = s.exec;
      if (r != null) {
        r.cancel();
      }
    });
    workers.shutdownNow();
  }
}
