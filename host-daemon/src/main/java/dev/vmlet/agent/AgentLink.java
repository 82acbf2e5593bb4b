package dev.vmlet.agent;

import com.google.protobuf.ByteString;
import dev.vmlet.common.flow.ReceiveWindow;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.agent.v1.ExecCancel;
import dev.vmlet.proto.agent.v1.ExecInput;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.FileData;
import dev.vmlet.proto.agent.v1.FileEnd;
import dev.vmlet.proto.agent.v1.FileReadStart;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.GuestInfoReply;
import dev.vmlet.proto.agent.v1.GuestInfoRequest;
import dev.vmlet.proto.agent.v1.Heartbeat;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.proto.agent.v1.PowerRequest;
import dev.vmlet.proto.agent.v1.StreamError;
import dev.vmlet.proto.agent.v1.WindowUpdate;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The host end of one VM's agent link: a client of the unix socket that QEMU exposes for the
 * virtio-serial port. It only ever sends requests; everything the guest sends is checked and
 * either answers an open request or is dropped. A Hello is accepted only with the VM's own
 * instance id and a protocol version both sides speak ({@link AgentSessions}).
 *
 * <p>A session starts with each accepted Hello of a new agent session (first contact, agent
 * restart, guest reboot, or the agent coming back after it was lost) and ends when the agent
 * stops answering heartbeats or starts another; requests in flight then fail with the reason, and
 * never hang. Each stream has credit both ways ({@link SendWindow}, {@link ReceiveWindow}), so
 * one busy stream cannot starve another and neither side buffers without bound.
 */
public final class AgentLink implements Closeable {
  private static final Logger LOG = Logger.getLogger(AgentLink.class.getName());
  public static final int PROTOCOL_VERSION = 1;
  public static final int MIN_PROTOCOL_VERSION = 1;
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(5);

  /** What happens to the link's sessions. Called on the link's threads; must not block. */
  public interface Events {
    /** A session began: the agent said Hello and was welcomed. */
    void ready(Hello hello);

    /** The session ended while the connection stays (no heartbeat answers, or the agent started another). */
    default void lost(String reason) {}

    /** The agent speaks no protocol version this daemon does. */
    default void refused(String reason) {}

    /** The connection closed; the link is finished. */
    void closed();
  }

  /** One request in flight: who gets its answers, and its credit both ways. */
  private static final class LinkStream {
    final StreamListener listener;
    final SendWindow send = new SendWindow();
    final ReceiveWindow receive = new ReceiveWindow();

    LinkStream(StreamListener listener) {
      this.listener = listener;
    }
  }

  private final String vmName;
  private final String instanceId;
  private final AFUNIXSocket socket;
  private final FrameWriter writer;
  private final FrameReader reader;
  private final Events events;
  private final Duration heartbeat;
  private final Map<Integer, LinkStream> streams = new ConcurrentHashMap<>();
  private final AtomicInteger nextStream = new AtomicInteger(1);
  private final AgentSessions sessions;
  private volatile long lastFromAgentNanos = System.nanoTime();
  private volatile boolean livenessSuspended;
  private volatile boolean closed;
  private volatile long dropped;
  private long floodWindowStart = System.nanoTime();
  private int floodCount;
  private volatile String endReason;

  private AgentLink(String vmName, String instanceId, AFUNIXSocket socket, Events events, Duration heartbeat, byte[] token)
      throws IOException {
    this.vmName = vmName;
    this.instanceId = instanceId;
    this.socket = socket;
    this.writer = new FrameWriter(socket.getOutputStream());
    this.reader = new FrameReader(socket.getInputStream(),
        e -> LOG.warning("VM " + vmName + ": bad frame from agent: " + e.getMessage()));
    this.events = events;
    this.heartbeat = heartbeat;
    this.sessions = new AgentSessions(vmName, instanceId, heartbeat, token, events, new AgentSessions.Link() {
      @Override
      public void send(Frame f) throws IOException {
        writer.write(f);
      }

      @Override
      public void failAll(String reason) {
        AgentLink.this.failAll(StreamError.Code.UNAVAILABLE, reason);
      }
    });
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
    AFUNIXSocket s = AFUNIXSocket.newInstance();
    try {
      s.connect(AFUNIXSocketAddress.of(socketPath.toFile()), (int) timeout.toMillis());
    } catch (IOException e) {
      s.close();
      throw new IOException("cannot connect to the agent socket " + socketPath + ": " + e.getMessage(), e);
    }
    return new AgentLink(vmName, instanceId, s, events, heartbeat, token).startThreads();
  }

  /** A link over a socket that is connected already (an agent that connected to the daemon). */
  public static AgentLink over(String vmName, String instanceId, AFUNIXSocket s, Duration heartbeat, Events events)
      throws IOException {
    return new AgentLink(vmName, instanceId, s, events, heartbeat, null).startThreads();
  }

  private AgentLink startThreads() {
    AgentLink link = this;
    try {
      // A new link has no session: an agent that missed the old link's end must not wait for its
      // heartbeat limit to say Hello (see Heartbeat.no_session).
      writer.write(Frame.newBuilder().setHeartbeat(Heartbeat.newBuilder().setNoSession(true)).build());
    } catch (IOException e) {
      // the reader sees the link end
    }
    Thread t = new Thread(link::readLoop, "agent-link-" + vmName);
    t.setDaemon(true);
    t.start();
    Thread hb = new Thread(link::heartbeatLoop, "agent-heartbeat-" + vmName);
    hb.setDaemon(true);
    hb.start();
    return link;
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
    livenessSuspended = suspended;
    lastFromAgentNanos = System.nanoTime();
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
    LinkStream s = require(stream);
    if (len > 0) {
      s.send.acquire(len);
    }
    writer.write(Frame.newBuilder().setStreamId(stream)
        .setExecInput(ExecInput.newBuilder().setData(ByteString.copyFrom(data, off, len)).setEof(eof)).build());
  }

  /** The terminal of a tty exec changed size. */
  public void execResize(int stream, int rows, int cols) throws IOException {
    if (streams.containsKey(stream)) {
      writer.write(Frame.newBuilder().setStreamId(stream)
          .setExecResize(dev.vmlet.proto.agent.v1.ExecResize.newBuilder().setRows(rows).setCols(cols)).build());
    }
  }

  /** Kills a program and what it started; its ExecExit follows with cancelled set. */
  public void execCancel(int stream) throws IOException {
    if (streams.containsKey(stream)) {
      writer.write(Frame.newBuilder().setStreamId(stream).setExecCancel(ExecCancel.getDefaultInstance()).build());
    }
  }

  /**
   * Starts writing a file in the guest; send its data with {@link #pushData} and finish with
   * {@link #pushEnd}. The listener gets FileDone once the guest renamed the file into place.
   */
  public int openPush(FileWriteStart start, TransferListener listener) throws IOException {
    return open(Frame.newBuilder().setFileWriteStart(start), listener, "a file push");
  }

  /** Sends up to 32 KiB of a push; blocks while the stream's window is full. */
  public void pushData(int stream, byte[] data, int off, int len) throws IOException {
    require(stream).send.acquire(len);
    writer.write(Frame.newBuilder().setStreamId(stream)
        .setFileData(FileData.newBuilder().setData(ByteString.copyFrom(data, off, len))).build());
  }

  /** Ends a push: the guest checks size and digest against what it received before it renames. */
  public void pushEnd(int stream, long size, String sha256) throws IOException {
    writer.write(Frame.newBuilder().setStreamId(stream).setFileEnd(FileEnd.newBuilder().setSize(size).setSha256(sha256)).build());
  }

  /** Tells the guest to drop a stream (a push whose source failed); its listener is told too. */
  public void cancel(int stream, String reason) {
    LinkStream s = streams.remove(stream);
    try {
      writer.write(Frame.newBuilder().setStreamId(stream).setError(StreamError.newBuilder()
          .setCode(StreamError.Code.CANCELLED).setMessage(reason)).build());
    } catch (IOException e) {
      // the link is gone: the guest drops the session's streams itself
    }
    if (s != null) {
      s.send.close(reason);
      s.listener.failed(StreamError.newBuilder().setCode(StreamError.Code.CANCELLED).setMessage(reason).build());
    }
  }

  /** Reads a file from the guest, from {@code offset} on: info, data, done on the listener. */
  public int pull(String path, long offset, TransferListener listener) throws IOException {
    return open(Frame.newBuilder().setFileReadStart(FileReadStart.newBuilder().setPath(path).setOffset(offset)), listener,
        "a file pull");
  }

  /** Returns credit for {@code n} bytes a {@link StreamListener#returnsCredit} listener has passed on. */
  public void consumed(int stream, int n) {
    LinkStream s = streams.get(stream);
    if (s == null) {
      return;
    }
    int grant = s.receive.consumed(n);
    if (grant > 0) {
      try {
        writer.write(Frame.newBuilder().setStreamId(stream).setWindowUpdate(WindowUpdate.newBuilder().setBytes(grant)).build());
      } catch (IOException e) {
        // the link is gone; the stream fails with it
      }
    }
  }

  /** Asks the guest what it is and how it is doing. */
  public CompletableFuture<GuestInfoReply> guestInfo() throws IOException {
    CompletableFuture<GuestInfoReply> result = new CompletableFuture<>();
    open(Frame.newBuilder().setGuestInfoRequest(GuestInfoRequest.getDefaultInstance()),
        new ReplyListener(f -> result.complete(f.getGuestInfo()), result::completeExceptionally), "a guest info request");
    return result;
  }

  /** Asks the guest to power off or reboot; completes when the agent has said it will. */
  public CompletableFuture<Void> power(PowerRequest.Action action) throws IOException {
    CompletableFuture<Void> result = new CompletableFuture<>();
    open(Frame.newBuilder().setPower(PowerRequest.newBuilder().setAction(action)),
        new ReplyListener(f -> result.complete(null), result::completeExceptionally), "a power request");
    return result;
  }

  /** Most entries a listing may have before it is cancelled. */
  public static final int MAX_LIST_ENTRIES = 1_000_000;

  /** Lists the tree under a guest directory, parents before children. */
  public CompletableFuture<java.util.List<dev.vmlet.proto.agent.v1.DirEntry>> listDir(String path) throws IOException {
    CompletableFuture<java.util.List<dev.vmlet.proto.agent.v1.DirEntry>> result = new CompletableFuture<>();
    java.util.List<dev.vmlet.proto.agent.v1.DirEntry> entries = new java.util.ArrayList<>();
    int[] id = {-1};
    ListListener l = new ListListener(e -> {
      entries.addAll(e.getEntriesList());
      if (entries.size() > MAX_LIST_ENTRIES && id[0] >= 0) {
        cancel(id[0], "more than " + MAX_LIST_ENTRIES + " entries under " + path);
      }
    }, () -> result.complete(entries), result::completeExceptionally);
    id[0] = open(Frame.newBuilder().setDirList(dev.vmlet.proto.agent.v1.DirListRequest.newBuilder().setPath(path)), l, "a directory listing");
    return result;
  }

  /** Gets a listing's entries, then its end, or its error. */
  static final class ListListener extends FailsTo {
    final Consumer<dev.vmlet.proto.agent.v1.DirEntries> entries;
    final Runnable end;

    ListListener(Consumer<dev.vmlet.proto.agent.v1.DirEntries> entries, Runnable end, Consumer<Throwable> error) {
      super(error);
      this.entries = entries;
      this.end = end;
    }
  }

  /** A listener whose failures go to one consumer: an {@link AgentException} when the agent said why. */
  abstract static class FailsTo implements StreamListener {
    final Consumer<Throwable> error;

    FailsTo(Consumer<Throwable> error) {
      this.error = error;
    }

    @Override
    public void failed(String reason) {
      error.accept(new IOException(reason));
    }

    @Override
    public void failed(StreamError e) {
      error.accept(new AgentException(e));
    }
  }

  /** Gets the one answer frame of a request, or its error. */
  static final class ReplyListener extends FailsTo {
    final Consumer<Frame> reply;

    ReplyListener(Consumer<Frame> reply, Consumer<Throwable> error) {
      super(error);
      this.reply = reply;
    }
  }

  private LinkStream require(int stream) throws IOException {
    LinkStream s = streams.get(stream);
    if (s == null) {
      throw new IOException("stream " + stream + " to the agent of VM " + vmName + " has ended");
    }
    return s;
  }

  private int open(Frame.Builder request, StreamListener listener, String what) throws IOException {
    if (sessions.hello() == null) {
      throw new IOException("the agent of VM " + vmName + " is not connected");
    }
    int id = nextStream.getAndIncrement();
    streams.put(id, new LinkStream(listener));
    try {
      writer.write(request.setStreamId(id).build());
    } catch (IOException e) {
      streams.remove(id);
      throw new IOException("cannot send " + what + " to the agent of VM " + vmName + ": " + e.getMessage(), e);
    }
    return id;
  }

  private void readLoop() {
    try {
      Frame f;
      while ((f = reader.read()) != null) {
        lastFromAgentNanos = System.nanoTime();
        handle(f);
      }
    } catch (Exception e) {
      if (!closed) {
        LOG.info("VM " + vmName + ": agent link ended: " + e.getMessage());
      }
    } finally {
      closed = true;
      sessions.end();
      failAll(StreamError.Code.UNAVAILABLE, endReason != null ? endReason
          : "the agent link of VM " + vmName + " closed (VM stopped, or daemon shutting down)");
      try {
        socket.close();
      } catch (IOException ignored) {
        // already gone
      }
      events.closed();
    }
  }

  private void heartbeatLoop() {
    long sequence = 0;
    while (!closed) {
      try {
        Thread.sleep(heartbeat.toMillis());
      } catch (InterruptedException e) {
        return;
      }
      if (sessions.hello() == null || closed) {
        continue;
      }
      long silentMs = (System.nanoTime() - lastFromAgentNanos) / 1_000_000;
      if (!livenessSuspended && silentMs > 3 * heartbeat.toMillis()) {
        endSession("the agent of VM " + vmName + " has not answered for " + silentMs / 1000 + " s (agent stopped, or guest hung)");
        continue;
      }
      try {
        writer.write(Frame.newBuilder().setHeartbeat(Heartbeat.newBuilder().setSequence(++sequence)).build());
      } catch (IOException e) {
        // the reader sees the link end
      }
    }
  }

  private void endSession(String reason) {
    if (!sessions.end()) {
      return;
    }
    LOG.warning("VM " + vmName + ": " + reason);
    failAll(StreamError.Code.UNAVAILABLE, reason + "; requests in flight failed");
    events.lost(reason);
  }

  private void handle(Frame f) throws IOException {
    int id = f.getStreamId();
    switch (f.getBodyCase()) {
      case HELLO -> sessions.onHello(f.getHello());
      case PROOF -> {
        if (!sessions.onProof(f)) {
          drop(f);
        }
      }
      case HEARTBEAT -> { }
      case WINDOW_UPDATE -> {
        LinkStream s = streams.get(id);
        if (s != null) {
          s.send.grant(f.getWindowUpdate().getBytes());
        }
      }
      case EXEC_OUTPUT -> {
        LinkStream s = streams.get(id);
        if (s == null || !(s.listener instanceof ExecListener l)) {
          drop(f);
        } else if (withinWindow(id, s, f.getExecOutput().getData().size())) {
          byte[] data = f.getExecOutput().getData().toByteArray();
          if (f.getExecOutput().getFd() == dev.vmlet.proto.agent.v1.ExecOutput.Fd.STDERR) {
            l.stderr(data);
          } else {
            l.stdout(data);
          }
          autoCredit(id, s, data.length);
        }
      }
      case EXEC_EXIT -> {
        LinkStream s = streams.remove(id);
        if (s != null && s.listener instanceof ExecListener l) {
          s.send.close("the program ended");
          l.exit(f.getExecExit());
        } else {
          drop(f);
        }
      }
      case FILE_INFO, FILE_DATA -> {
        LinkStream s = streams.get(id);
        if (s == null || !(s.listener instanceof TransferListener l)) {
          drop(f);
        } else if (f.hasFileInfo()) {
          l.info(f.getFileInfo());
        } else if (withinWindow(id, s, f.getFileData().getData().size())) {
          byte[] data = f.getFileData().getData().toByteArray();
          l.data(data);
          autoCredit(id, s, data.length);
        }
      }
      case FILE_OFFSET -> {
        LinkStream s = streams.get(id);
        if (s != null && s.listener instanceof TransferListener l) {
          l.offset(f.getFileOffset().getOffset());
        } else {
          drop(f);
        }
      }
      case FILE_DONE -> {
        LinkStream s = streams.remove(id);
        if (s != null && s.listener instanceof TransferListener l) {
          s.send.close("the transfer ended");
          l.done(f.getFileDone());
        } else {
          drop(f);
        }
      }
      case DIR_ENTRIES -> {
        LinkStream s = streams.get(id);
        int n = f.getSerializedSize();
        if (s == null || !(s.listener instanceof ListListener l)) {
          drop(f);
        } else if (withinWindow(id, s, n)) {
          l.entries.accept(f.getDirEntries());
          consumed(id, n);
        }
      }
      case DIR_END -> {
        LinkStream s = streams.remove(id);
        if (s != null && s.listener instanceof ListListener l) {
          s.send.close("the listing ended");
          l.end.run();
        } else {
          drop(f);
        }
      }
      case GUEST_INFO, POWER_REPLY -> {
        LinkStream s = streams.remove(id);
        if (s != null && s.listener instanceof ReplyListener l) {
          l.reply.accept(f);
        } else {
          drop(f);
        }
      }
      case ERROR -> {
        LinkStream s = streams.remove(id);
        if (s == null) {
          drop(f);
        } else {
          s.send.close(f.getError().getMessage());
          s.listener.failed(f.getError());
        }
      }
      default -> drop(f);
    }
  }

  private boolean withinWindow(int id, LinkStream s, int n) {
    if (s.receive.received(n)) {
      return true;
    }
    cancel(id, "the agent sent more than its flow-control window (" + SendWindow.INITIAL + " bytes)");
    return false;
  }

  private void autoCredit(int id, LinkStream s, int n) {
    if (!s.listener.returnsCredit()) {
      consumed(id, n);
    }
  }

  private void failAll(StreamError.Code code, String reason) {
    StreamError error = StreamError.newBuilder().setCode(code).setMessage(reason).build();
    for (Integer id : streams.keySet()) {
      LinkStream s = streams.remove(id);
      if (s != null) {
        s.send.close(reason);
        s.listener.failed(error);
      }
    }
  }

  /** More unsolicited frames than this within {@link #FLOOD_WINDOW} and the link is cut. */
  public static final int FLOOD_FRAMES = 1000;
  static final Duration FLOOD_WINDOW = Duration.ofSeconds(10);

  /** Called on the reader thread only: a frame that answers nothing is counted and dropped. */
  private void drop(Frame f) {
    dropped++;
    LOG.fine("VM " + vmName + ": dropped unexpected " + f.getBodyCase() + " on stream " + f.getStreamId()
        + " (" + dropped + " so far)");
    long now = System.nanoTime();
    if (now - floodWindowStart > FLOOD_WINDOW.toNanos()) {
      floodWindowStart = now;
      floodCount = 0;
    }
    if (++floodCount > FLOOD_FRAMES && endReason == null) {
      endReason = "the agent sent more than " + FLOOD_FRAMES + " frames that answer nothing within " + FLOOD_WINDOW.toSeconds()
          + " s; the link was cut";
      LOG.warning("VM " + vmName + ": " + endReason + " (" + dropped + " dropped in all)");
      try {
        socket.close(); // the read loop ends, every request fails with the reason
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  /** Frames from the agent that answered no open request, since the link was made. */
  public long dropped() {
    return dropped;
  }

  @Override
  public void close() throws IOException {
    closed = true;
    socket.close();
  }
}
