package dev.vmlet.agent;

import dev.vmlet.common.flow.ReceiveWindow;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.StreamError;
import dev.vmlet.proto.agent.v1.WindowUpdate;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The open streams of one agent link: who gets each stream's answers, and its credit both ways.
 * The host numbers streams from 1 (stream 0 is the session). A stream leaves the table exactly
 * once, when it ends (its last answer, an error, a cancel or the end of the session), and its
 * send window is closed then, so a sender waiting for credit is woken with the reason.
 *
 * <p>Thread-safe: requests add and cancel streams on callers' threads, the link's reader routes
 * answers and credit.
 */
final class LinkStreams {
  /** Sends the frames the table makes itself: window updates and cancels. */
  interface Sender {
    void send(Frame f) throws IOException;
  }

  /** One request in flight: who gets its answers, and its credit both ways. */
  record Stream(StreamListener listener, SendWindow send, ReceiveWindow receive) {
    Stream(StreamListener listener) {
      this(listener, new SendWindow(), new ReceiveWindow());
    }
  }

  private final String vmName;
  private final Sender sender;
  private final Map<Integer, Stream> streams = new ConcurrentHashMap<>();
  private final AtomicInteger nextStream = new AtomicInteger(1);

  LinkStreams(String vmName, Sender sender) {
    this.vmName = vmName;
    this.sender = sender;
  }

  /** Adds a stream for {@code listener}; its request must go out with the returned id. */
  int add(StreamListener listener) {
    int id = nextStream.getAndIncrement();
    streams.put(id, new Stream(listener));
    return id;
  }

  /** The open stream {@code id}, or null. */
  Stream get(int id) {
    return streams.get(id);
  }

  /** The open stream {@code id}; an IOException names the stream when it has ended. */
  Stream require(int id) throws IOException {
    Stream s = streams.get(id);
    if (s == null) {
      throw new IOException("stream " + id + " to the agent of VM " + vmName + " has ended");
    }
    return s;
  }

  boolean contains(int id) {
    return streams.containsKey(id);
  }

  /** How many streams are open. */
  int size() {
    return streams.size();
  }

  /** Forgets a stream whose request could not be sent: nobody is told. */
  void forget(int id) {
    streams.remove(id);
  }

  /**
   * Ends stream {@code id} because its last answer came; senders still waiting for its credit fail
   * with {@code why}.
   *
   * @return the stream, or null when it was not open
   */
  Stream finish(int id, String why) {
    Stream s = streams.remove(id);
    if (s != null) {
      s.send().close(why);
    }
    return s;
  }

  /** Tells the guest to drop a stream, and its listener that it failed with {@code reason}. */
  void cancel(int id, String reason) {
    Stream s = streams.remove(id);
    try {
      sender.send(Frame.newBuilder().setStreamId(id).setError(StreamError.newBuilder()
          .setCode(StreamError.Code.CANCELLED).setMessage(reason)).build());
    } catch (IOException e) {
      // the link is gone: the guest drops the session's streams itself
    }
    if (s != null) {
      s.send().close(reason);
      s.listener().failed(StreamError.newBuilder().setCode(StreamError.Code.CANCELLED).setMessage(reason).build());
    }
  }

  /**
   * Counts {@code n} bytes the guest sent on a stream against its window.
   *
   * @return false when the guest went past it; the stream is then cancelled
   */
  boolean received(int id, Stream s, int n) {
    if (s.receive().received(n)) {
      return true;
    }
    cancel(id, "the agent sent more than its flow-control window (" + SendWindow.INITIAL + " bytes)");
    return false;
  }

  /** Returns credit for {@code n} bytes that were passed on; a WindowUpdate goes out per batch. */
  void consumed(int id, int n) {
    Stream s = streams.get(id);
    if (s == null) {
      return;
    }
    int grant = s.receive().consumed(n);
    if (grant > 0) {
      try {
        sender.send(Frame.newBuilder().setStreamId(id).setWindowUpdate(WindowUpdate.newBuilder().setBytes(grant)).build());
      } catch (IOException e) {
        // the link is gone; the stream fails with it
      }
    }
  }

  /** The data callback returned: returns the credit unless the listener returns it itself. */
  void delivered(int id, Stream s, int n) {
    if (!s.listener().returnsCredit()) {
      consumed(id, n);
    }
  }

  /**
   * The guest granted {@code bytes} more on stream {@code id}: blocked senders wake, and a
   * transfer's listener hears of it (a sender that must not wait tries again then).
   *
   * @return false when no such stream is open
   */
  boolean granted(int id, long bytes) {
    Stream s = streams.get(id);
    if (s == null) {
      return false;
    }
    s.send().grant(bytes);
    if (s.listener() instanceof TransferListener t) {
      t.credited();
    }
    return true;
  }

  /** Fails every open stream with {@code code} and {@code reason} (the session or the link ended). */
  void failAll(StreamError.Code code, String reason) {
    StreamError error = StreamError.newBuilder().setCode(code).setMessage(reason).build();
    for (Integer id : streams.keySet()) {
      Stream s = streams.remove(id);
      if (s != null) {
        s.send().close(reason);
        s.listener().failed(error);
      }
    }
  }
}
