package dev.vmlet.agent;

import dev.vmlet.common.flow.ReceiveWindow;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.FileReadStart;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.GuestInfoReply;
import dev.vmlet.proto.agent.v1.Heartbeat;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.proto.agent.v1.PowerRequest;
import dev.vmlet.proto.agent.v1.StreamError;
import dev.vmlet.proto.agent.v1.DirEntry;
import dev.vmlet.proto.agent.v1.Frame.BodyCase;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * The host end of one VM's agent link: a client of the unix socket that QEMU exposes for the
 * virtio-serial port. It only ever sends requests; everything the guest sends is checked and
 * either answers an open request or is dropped. A Hello is accepted only with the VM's own
 * instance id and a protocol version both sides speak ({@link AgentSessions}).
 *
 * <p>A session starts with each accepted Hello of a new agent session (first contact, agent
 * restart, guest reboot, or the agent coming back after it was lost) and ends when the agent
 * stops answering heartbeats ({@link LinkLiveness}) or starts another; requests in flight then
 * fail with the reason, and never hang. Each stream has credit both ways ({@link SendWindow},
 * {@link ReceiveWindow}; the table is {@link LinkStreams}), so one busy stream cannot starve
 * another and neither side buffers without bound. Frames from the agent go to the handler of
 * their kind ({@link AgentFrameHandlers}, {@link StreamReplies}); a guest that floods the link
 * with frames that answer nothing is cut off ({@link FloodGuard}).
 *
 * <p>Why one class of about 300 lines: it is the only class of the link the rest of the daemon
 * uses, so every request is here with its contract in Javadoc and a body of a line or two; the
 * work is in the classes named above.
 */
public final class AgentLink implements Closeable {
  private static final Logger LOG = Logger.getLogger(AgentLink.class.getName());
  public static final int PROTOCOL_VERSION = 1;
  public static final int MIN_PROTOCOL_VERSION = 1;
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(5);
  /** Most entries a listing may have before it is cancelled. */
  public static final int MAX_LIST_ENTRIES = 1_000_000;
  /** More unsolicited frames than this within {@link #FLOOD_WINDOW} and the link is cut. */
  public static final int FLOOD_FRAMES = 1000;
  static final Duration FLOOD_WINDOW = Duration.ofSeconds(10);

  /** What happens to the link's sessions. Called on the link's threads; must not block. */
  public interface Events {
    /** A session began: the agent said Hello and was welcomed. */
    void ready(Hello hello);

    /**
     * As {@link #ready(Hello)}, with when (daemon clock, Unix ms) the Hello that began the session
     * arrived: the boot breakdown's anchor between the guest's clock and the daemon's.
     */
    default void ready(Hello hello, long helloArrivedAtMs) {
      ready(hello);
    }

    /** The session ended while the connection stays (no heartbeat answers, or the agent started another). */
    default void lost(String reason) {}

    /** The agent speaks no protocol version this daemon does. */
    default void refused(String reason) {}

    /** The connection closed; the link is finished. */
    void closed();
  }

  private final String vmName;
  private final LinkConnection connection;
  private final Events events;
  private final LinkStreams streams;
  private final StreamSends sends;
  private final AgentSessions sessions;
  private final LinkLiveness liveness;
  private final FloodGuard flood = new FloodGuard(FLOOD_FRAMES, FLOOD_WINDOW, System::nanoTime);
  private final AgentFrameHandlers handlers;

  private AgentLink(String vmName, String instanceId, AFUNIXSocket socket, Events events, Duration heartbeat, byte[] token)
      throws IOException {
    this.vmName = vmName;
    this.connection = new LinkConnection(vmName, socket, flood);
    this.events = events;
    this.streams = new LinkStreams(vmName, connection::send);
    this.sends = new StreamSends(streams, connection::send);
    this.sessions = new AgentSessions(vmName, instanceId, heartbeat, token, events, new AgentSessions.Link() {
      @Override
      public void send(Frame f) throws IOException {
        connection.send(f);
      }

      @Override
      public void failAll(String reason) {
        streams.failAll(StreamError.Code.UNAVAILABLE, reason);
      }
    });
    this.liveness = new LinkLiveness(vmName, heartbeat, connection, () -> sessions.hello() != null, this::endSession);
    this.handlers = new AgentFrameHandlers(connection::drop)
        .on(BodyCase.HELLO, f -> {
          sessions.onHello(f.getHello());
          return true;
        })
        .on(BodyCase.PROOF, sessions::onProof)
        .on(BodyCase.HEARTBEAT, f -> true); // its arrival is what counts (liveness)
    StreamReplies.register(handlers, streams);
  }

  /** {@link #connect(String, String, Path, Duration, Duration, Events)} with callbacks for ready and closed only. */
  public static AgentLink connect(String vmName, String instanceId, Path socketPath, Duration timeout,
      Consumer<Hello> onReady, Runnable onClose) throws IOException {
    return connect(vmName, instanceId, socketPath, timeout, DEFAULT_HEARTBEAT, new Events() {
      @Override
      public void ready(Hello h) {
        onReady.accept(h);
      }

      @Override
      public void closed() {
        onClose.run();
      }
    });
  }

  /**
   * Connects to the agent socket and starts reading and sending heartbeats.
   *
   * @param heartbeat how often to send a heartbeat; three intervals of silence end the session
   */
  public static AgentLink connect(String vmName, String instanceId, Path socketPath, Duration timeout, Duration heartbeat,
      Events events) throws IOException {
    return connect(vmName, instanceId, socketPath, timeout, heartbeat, events, null);
  }

  /**
   * As above; with a {@code token}, a session begins only once the agent proves it holds it (an
   * HMAC of a fresh challenge), which only an agent inside the VM the daemon made can.
   */
  public static AgentLink connect(String vmName, String instanceId, Path socketPath, Duration timeout, Duration heartbeat,
      Events events, byte[] token) throws IOException {
    return new AgentLink(vmName, instanceId, LinkConnection.connect(socketPath, timeout), events, heartbeat, token).startThreads();
  }

  /** A link over a socket that is connected already (an agent that connected to the daemon). */
  public static AgentLink over(String vmName, String instanceId, AFUNIXSocket s, Duration heartbeat, Events events)
      throws IOException {
    return new AgentLink(vmName, instanceId, s, events, heartbeat, null).startThreads();
  }

  private AgentLink startThreads() {
    try {
      // A new link has no session: an agent that missed the old link's end must not wait for its
      // heartbeat limit to say Hello (see Heartbeat.no_session).
      connection.send(Frame.newBuilder().setHeartbeat(Heartbeat.newBuilder().setNoSession(true)).build());
    } catch (IOException e) {
      // the reader sees the link end
    }
    connection.startReading(f -> {
      liveness.heard();
      handlers.handle(f);
    }, this::linkEnded);
    liveness.start();
    return this;
  }

  /** The agent's Hello in the current session; null when there is none. */
  public Hello hello() {
    return sessions.hello();
  }

  /**
   * While the guest is paused its agent cannot answer: heartbeats are not checked until this is
   * called again with false.
   */
  public void suspendLiveness(boolean suspended) {
    liveness.suspend(suspended);
  }

  /**
   * Starts a program in the guest.
   *
   * @throws IOException if the agent is not connected or the request cannot be sent
   */
  public int exec(ExecStart start, ExecListener listener) throws IOException {
    return open(Frame.newBuilder().setExecStart(start), listener, "exec");
  }

  /** Sends stdin to a program started with {@code stdin} set; blocks while its window is full. */
  public void execInput(int stream, byte[] data, int off, int len, boolean eof) throws IOException {
    sends.execInput(stream, data, off, len, eof);
  }


  /** The terminal of a tty exec changed size. */
  public void execResize(int stream, int rows, int cols) throws IOException {
    sends.execResize(stream, rows, cols);
  }


  /** Kills a program and what it started; its ExecExit follows with cancelled set. */
  public void execCancel(int stream) throws IOException {
    sends.execCancel(stream);
  }


  /**
   * Starts writing a file in the guest; send its data with {@link #pushData} (or {@link
   * #tryPushData}) and finish with {@link #pushEnd}. The listener gets FileDone once the guest
   * renamed the file into place.
   */
  public int openPush(FileWriteStart start, TransferListener listener) throws IOException {
    return open(Frame.newBuilder().setFileWriteStart(start), listener, "a file push");
  }

  /** Sends up to 32 KiB of a push; blocks while the stream's window is full. */
  public void pushData(int stream, byte[] data, int off, int len) throws IOException {
    sends.pushData(stream, data, off, len);
  }


  /**
   * Sends up to 32 KiB of a push if the guest has granted the credit for it, without waiting; the
   * push's {@link TransferListener#credited} is called when more credit comes.
   *
   * @return false when the window is too full now (nothing was sent)
   * @throws IOException when the stream has ended or the link failed
   */
  public boolean tryPushData(int stream, byte[] data, int off, int len) throws IOException {
    return sends.tryPushData(stream, data, off, len);
  }



  /** Ends a push: the guest checks size and digest against what it received before it renames. */
  public void pushEnd(int stream, long size, String sha256) throws IOException {
    sends.pushEnd(stream, size, sha256);
  }


  /** Tells the guest to drop a stream (a push whose source failed); its listener is told too. */
  public void cancel(int stream, String reason) {
    streams.cancel(stream, reason);
  }

  /** Reads a file from the guest, from {@code offset} on: info, data, done on the listener. */
  public int pull(String path, long offset, TransferListener listener) throws IOException {
    return open(Frame.newBuilder().setFileReadStart(FileReadStart.newBuilder().setPath(path).setOffset(offset)), listener,
        "a file pull");
  }

  /** Returns credit for {@code n} bytes a {@link StreamListener#returnsCredit} listener has passed on. */
  public void consumed(int stream, int n) {
    streams.consumed(stream, n);
  }

  /** Asks the guest what it is and how it is doing. */
  public CompletableFuture<GuestInfoReply> guestInfo() throws IOException {
    return GuestQueries.guestInfo(this);
  }

  /** Asks the guest to power off or reboot; completes when the agent has said it will. */
  public CompletableFuture<Void> power(PowerRequest.Action action) throws IOException {
    return GuestQueries.power(this, action);
  }

  /** Lists the tree under a guest directory, parents before children. */
  public CompletableFuture<List<DirEntry>> listDir(String path) throws IOException {
    return GuestQueries.listDir(this, path);
  }

  /** Frames from the agent that answered no open request, since the link was made. */
  public long dropped() {
    return flood.total();
  }

  /** Streams open now (requests that have not ended). */
  int openStreams() {
    return streams.size();
  }

  /** Opens a stream for {@code listener} and sends its first request. */
  int open(Frame.Builder request, StreamListener listener, String what) throws IOException {
    if (sessions.hello() == null) {
      throw new IOException("the agent of VM " + vmName + " is not connected");
    }
    int id = streams.add(listener);
    try {
      connection.send(request.setStreamId(id).build());
    } catch (IOException e) {
      streams.forget(id);
      throw new IOException("cannot send " + what + " to the agent of VM " + vmName + ": " + e.getMessage(), e);
    }
    return id;
  }

  /** The socket ended: no session, every request fails with why, and the owner is told. */
  private void linkEnded(String reason) {
    sessions.end();
    streams.failAll(StreamError.Code.UNAVAILABLE, reason);
    events.closed();
  }

  private void endSession(String reason) {
    if (!sessions.end()) {
      return;
    }
    LOG.warning("VM " + vmName + ": " + reason);
    streams.failAll(StreamError.Code.UNAVAILABLE, reason + "; requests in flight failed");
    events.lost(reason);
  }

  @Override
  public void close() throws IOException {
    connection.close();
  }
}
