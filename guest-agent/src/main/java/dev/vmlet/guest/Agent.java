package dev.vmlet.guest;

import dev.vmlet.common.flow.ReceiveWindow;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.v1.Frame;
import dev.vmlet.proto.v1.Heartbeat;
import dev.vmlet.proto.v1.Hello;
import dev.vmlet.proto.v1.PowerReply;
import dev.vmlet.proto.v1.StreamError;
import dev.vmlet.proto.v1.WindowUpdate;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * The agent's session with the host: Hello until welcomed (bytes written before the host end is
 * connected may be lost), then answer requests. It only answers; nothing it receives but a
 * request is acted on, and each request is checked against the {@link Policy} first.
 *
 * <p>A session ends when the connection ends, when the port reports the host gone, or when the
 * host has sent nothing for three heartbeat intervals. Every stream of the ended session is then
 * dropped (programs killed, partial pushes deleted) and the agent says Hello again; frames of an
 * old session's streams are never written into a new one.
 */
final class Agent implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Agent.class.getName());
  static final String VERSION = "0.2.0";
  static final int PROTOCOL_VERSION = 1;
  static final int MIN_PROTOCOL_VERSION = 1;
  static final Path DEFAULT_POLICY = Path.of("/etc/vmlet/agent.conf");

  /** One request in flight: its credit both ways and how to stop it. */
  private static final class AgentStream {
    final SendWindow send = new SendWindow();
    final ReceiveWindow receive = new ReceiveWindow();
    volatile ExecRunner exec;
  }

  private final Transport transport;
  private final Hello hello;
  private final Duration helloInterval;
  private final Policy policy;
  private final GuestPlatform platform = GuestPlatform.current();
  private final boolean root = GuestFacts.isRoot();
  private final ExecutorService workers = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "agent-worker");
    t.setDaemon(true);
    return t;
  });
  private final FilePushes files = new FilePushes();
  private final Map<Integer, AgentStream> streams = new ConcurrentHashMap<>();
  private final Object lock = new Object();
  private boolean welcomed;
  private boolean refused;
  private long heartbeatMs = 5000;
  private volatile long lastFromHostNanos = System.nanoTime();
  private volatile int generation;
  private volatile FrameWriter writer;
  private volatile boolean closed;
  private volatile Transport.Connection connection;

  Agent(Transport transport, Hello hello, Duration helloInterval) {
    this(transport, hello, helloInterval, Policy.load(DEFAULT_POLICY));
  }

  /** Where QEMU's fw_cfg puts the VM's token in the guest (root only). */
  static final java.nio.file.Path FW_CFG_TOKEN = java.nio.file.Path.of("/sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/token/raw");
  private volatile java.nio.file.Path tokenFile = FW_CFG_TOKEN;

  /** Reads the VM token from {@code file} instead of fw_cfg (tests, and guests without fw_cfg). */
  void tokenFile(java.nio.file.Path file) {
    this.tokenFile = file;
  }

  /** HMAC-SHA256 of the challenge and session id with the VM's token; empty when there is no token to read. */
  private byte[] proof(dev.vmlet.proto.v1.Welcome welcome) {
    byte[] token;
    try {
      token = java.nio.file.Files.readAllBytes(tokenFile);
    } catch (IOException e) {
      LOG.severe("the host asks for the VM token, which cannot be read at " + tokenFile + " (" + e.getMessage() + ")");
      return new byte[0];
    }
    return dev.vmlet.common.session.TokenProof.hmac(token, welcome.getChallenge().toByteArray(), welcome.getSessionId());
  }

  Agent(Transport transport, Hello hello, Duration helloInterval, Policy policy) {
    this.transport = transport;
    Hello.Builder h = hello.toBuilder();
    if (h.getAgentStartId().isEmpty()) {
      h.setAgentStartId(UUID.randomUUID().toString());
    }
    if (h.getProtocolVersion() == 0) {
      h.setProtocolVersion(PROTOCOL_VERSION).setMinProtocolVersion(MIN_PROTOCOL_VERSION);
    }
    this.hello = h.build();
    this.helloInterval = helloInterval;
    this.policy = policy;
  }

  /**
   * The host is gone (the port says so, the connection ended, or it stopped sending heartbeats):
   * the session ends, its streams are dropped, and the agent says Hello again.
   */
  void hostGone() {
    synchronized (lock) {
      if (welcomed) {
        LOG.info("host disconnected; saying Hello again");
      }
      welcomed = false;
      generation++;
      lock.notifyAll();
    }
    dropStreams("the session with the host ended");
  }

  private void dropStreams(String reason) {
    for (Integer id : streams.keySet()) {
      AgentStream s = streams.remove(id);
      if (s != null) {
        s.send.close(reason);
        if (s.exec != null) {
          s.exec.cancel();
        }
      }
    }
    files.abortAll();
  }

  /** Runs until closed: connects, serves, reconnects with a short backoff. */
  void run() throws InterruptedException {
    long backoff = 100;
    Thread watchdog = new Thread(this::watchHeartbeats, "agent-heartbeat-watch");
    watchdog.setDaemon(true);
    watchdog.start();
    while (!closed) {
      try (Transport.Connection c = transport.open()) {
        connection = c;
        if (closed) {
          break; // closed while connecting: close() did not see this connection
        }
        backoff = 100;
        serve(c);
      } catch (IOException e) {
        if (!closed) {
          LOG.fine("link to host: " + e.getMessage());
        }
      } finally {
        connection = null;
        writer = null;
        hostGone();
      }
      if (!closed) {
        Thread.sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
    watchdog.interrupt();
  }

  /** Ends a session whose host has been silent for three heartbeat intervals. */
  private void watchHeartbeats() {
    while (!closed) {
      try {
        Thread.sleep(Math.max(50, Math.min(1000, heartbeatMs / 2)));
      } catch (InterruptedException e) {
        return;
      }
      long silentMs = (System.nanoTime() - lastFromHostNanos) / 1_000_000;
      boolean isWelcomed;
      long limit;
      synchronized (lock) {
        isWelcomed = welcomed;
        limit = 3 * heartbeatMs;
      }
      if (isWelcomed && silentMs > limit) {
        LOG.warning("nothing from the host for " + silentMs + " ms (3 heartbeat intervals)");
        hostGone();
      }
    }
  }

  private void serve(Transport.Connection c) throws IOException {
    FrameWriter w = new FrameWriter(c.out());
    writer = w;
    FrameReader reader = new FrameReader(c.in(), e -> LOG.warning("bad frame from host: " + e.getMessage()));
    Thread greeter = new Thread(() -> greet(w), "hello");
    greeter.setDaemon(true);
    greeter.start();
    try {
      Frame f;
      while ((f = reader.read()) != null) {
        lastFromHostNanos = System.nanoTime();
        handle(f, w);
      }
    } catch (dev.vmlet.common.frame.TruncatedFrameException e) {
      LOG.fine("host closed mid-frame");
    } finally {
      greeter.interrupt();
    }
  }

  private void handle(Frame f, FrameWriter w) throws IOException {
    int id = f.getStreamId();
    switch (f.getBodyCase()) {
      case WELCOME -> {
        if (!f.getWelcome().getChallenge().isEmpty()) {
          w.write(Frame.newBuilder().setProof(dev.vmlet.proto.v1.AgentProof.newBuilder()
              .setHmac(com.google.protobuf.ByteString.copyFrom(proof(f.getWelcome())))).build());
        }
        synchronized (lock) {
          if (!welcomed) {
            LOG.info("welcomed by host, session " + f.getWelcome().getSessionId() + ", protocol " + f.getWelcome().getProtocolVersion());
          }
          welcomed = true;
          refused = false;
          heartbeatMs = f.getWelcome().getHeartbeatIntervalMs() == 0 ? 5000 : f.getWelcome().getHeartbeatIntervalMs();
        }
      }
      case REFUSED -> {
        synchronized (lock) {
          if (!refused) {
            LOG.severe("the host refused this agent: " + f.getRefused().getMessage());
          }
          refused = true;
          welcomed = false; // keep saying Hello (slowly): a fixed token or an upgraded daemon may welcome it
        }
      }
      case HEARTBEAT -> {
        if (f.getHeartbeat().getNoSession()) {
          boolean had;
          synchronized (lock) {
            had = welcomed;
          }
          if (had) {
            LOG.info("a new host link without our session (the old one ended unseen); saying Hello again");
            hostGone();
          }
        } else if (!f.getHeartbeat().getReply()) {
          w.write(Frame.newBuilder().setHeartbeat(Heartbeat.newBuilder().setSequence(f.getHeartbeat().getSequence()).setReply(true))
              .build());
        }
      }
      case WINDOW_UPDATE -> {
        AgentStream s = streams.get(id);
        if (s != null) {
          s.send.grant(f.getWindowUpdate().getBytes());
        }
      }
      case EXEC_START -> {
        if (allowed(id, policy.check(Policy.Operation.EXEC))) {
          AgentStream s = open(id);
          ExecRunner r = new ExecRunner(id, f.getExecStart(), sink(id), s.send, platform, root, n -> consumed(id, s, n));
          s.exec = r;
          submit(() -> {
            try {
              r.run();
            } finally {
              streams.remove(id, s);
            }
          });
        }
      }
      case EXEC_INPUT -> {
        AgentStream s = streams.get(id);
        if (s != null && s.exec != null) {
          if (!s.receive.received(f.getExecInput().getData().size())) {
            overrun(id, s);
          } else {
            s.exec.input(f.getExecInput());
          }
        }
      }
      case EXEC_RESIZE -> {
        AgentStream s = streams.get(id);
        if (s != null && s.exec != null) {
          s.exec.resize(f.getExecResize().getRows(), f.getExecResize().getCols());
        }
      }
      case EXEC_CANCEL -> {
        AgentStream s = streams.get(id);
        if (s != null && s.exec != null) {
          s.exec.cancel();
        }
      }
      case FILE_WRITE_START -> {
        if (allowed(id, policy.check(Policy.Operation.FILE_WRITE, pathOf(f.getFileWriteStart().getPath())))) {
          open(id);
          files.start(id, f.getFileWriteStart(), sink(id));
          if (!files.isOpen(id)) {
            streams.remove(id);
          }
        }
      }
      case FILE_DATA -> {
        AgentStream s = streams.get(id);
        if (s != null) {
          int n = f.getFileData().getData().size();
          if (!s.receive.received(n)) {
            overrun(id, s);
            return;
          }
          files.data(id, f.getFileData().getData(), sink(id));
          consumed(id, s, n);
          if (!files.isOpen(id)) {
            streams.remove(id);
          }
        }
      }
      case FILE_END -> {
        files.end(id, f.getFileEnd(), sink(id));
        streams.remove(id);
      }
      case FILE_READ_START -> {
        if (allowed(id, policy.check(Policy.Operation.FILE_READ, pathOf(f.getFileReadStart().getPath())))) {
          AgentStream s = open(id);
          var req = f.getFileReadStart();
          FrameSink sink = sink(id);
          submit(() -> {
            try {
              FilePulls.pull(id, req, sink, s.send);
            } finally {
              streams.remove(id, s);
            }
          });
        }
      }
      case DIR_LIST -> {
        if (allowed(id, policy.check(Policy.Operation.FILE_READ, pathOf(f.getDirList().getPath())))) {
          AgentStream s = open(id);
          var req = f.getDirList();
          FrameSink sink = sink(id);
          submit(() -> {
            try {
              DirListings.list(id, req, sink, s.send);
            } finally {
              streams.remove(id, s);
            }
          });
        }
      }
      case ERROR -> { // the host drops a stream
        AgentStream s = streams.remove(id);
        if (s != null) {
          s.send.close("the host dropped the stream: " + f.getError().getMessage());
          if (s.exec != null) {
            s.exec.cancel();
          }
        }
        files.abort(id);
      }
      case GUEST_INFO_REQUEST -> {
        if (allowed(id, policy.check(Policy.Operation.INFO))) {
          FrameSink sink = sink(id);
          submit(() -> send(sink, Frame.newBuilder().setStreamId(id).setGuestInfo(GuestFacts.info(VERSION)).build()));
        }
      }
      case POWER -> {
        if (allowed(id, policy.check(Policy.Operation.POWER))) {
          boolean reboot = f.getPower().getAction() == dev.vmlet.proto.v1.PowerRequest.Action.REBOOT;
          send(sink(id), Frame.newBuilder().setStreamId(id).setPowerReply(PowerReply.getDefaultInstance()).build());
          submit(() -> power(reboot));
        }
      }
      default -> LOG.fine("ignoring " + f.getBodyCase() + " from host");
    }
  }

  /** Runs a request's work off the reader thread; dropped once the agent is closing. */
  private void submit(Runnable work) {
    try {
      workers.execute(work);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      if (!closed) {
        throw e;
      }
    }
  }

  private void power(boolean reboot) {
    try {
      Thread.sleep(200); // the reply goes out first
      LOG.info((reboot ? "rebooting" : "powering off") + " the guest, as the host asked");
      new ProcessBuilder(platform.powerArgv(reboot)).inheritIO().start();
    } catch (IOException e) {
      LOG.severe("cannot " + (reboot ? "reboot" : "power off") + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Path pathOf(String path) {
    try {
      return GuestFiles.absolute(path);
    } catch (IllegalArgumentException e) {
      return Path.of("/").resolve(path).normalize(); // refused later with the transfer's own message
    }
  }

  private AgentStream open(int id) {
    AgentStream s = new AgentStream();
    streams.put(id, s);
    return s;
  }

  private boolean allowed(int id, Optional<String> denied) {
    if (denied.isEmpty()) {
      return true;
    }
    LOG.warning("denied on stream " + id + ": " + denied.get());
    send(sink(id), Frame.newBuilder().setStreamId(id)
        .setError(StreamError.newBuilder().setCode(StreamError.Code.PERMISSION_DENIED).setMessage("denied: " + denied.get())).build());
    return false;
  }

  /** Returns credit for consumed bytes, batched. */
  private void consumed(int id, AgentStream s, int n) {
    int grant = s.receive.consumed(n);
    if (grant > 0) {
      send(sink(id), Frame.newBuilder().setStreamId(id).setWindowUpdate(WindowUpdate.newBuilder().setBytes(grant)).build());
    }
  }

  /** The host sent more than its window: a broken or hostile host; the stream fails. */
  private void overrun(int id, AgentStream s) {
    streams.remove(id);
    s.send.close("flow control violated");
    if (s.exec != null) {
      s.exec.cancel();
    }
    files.abort(id);
    send(sink(id), Frame.newBuilder().setStreamId(id).setError(StreamError.newBuilder().setCode(StreamError.Code.RESOURCE_EXHAUSTED)
        .setMessage("the host sent more than its flow-control window (" + SendWindow.INITIAL + " bytes)")).build());
  }

  /** Writes for one stream of the current session; fails once that session has ended. */
  private FrameSink sink(int id) {
    int gen = generation;
    return frame -> {
      FrameWriter w = writer;
      if (gen != generation || w == null) {
        throw new IOException("the session of stream " + id + " ended");
      }
      w.write(frame);
    };
  }

  private static void send(FrameSink sink, Frame f) {
    try {
      sink.send(f);
    } catch (IOException e) {
      LOG.fine("cannot answer on stream " + f.getStreamId() + ": " + e.getMessage());
    }
  }

  /** Sends Hello now and every interval while not welcomed; slowly while refused. */
  private void greet(FrameWriter w) {
    try {
      while (!closed) {
        boolean slow;
        int session;
        synchronized (lock) {
          while (welcomed && !closed) {
            lock.wait();
          }
          if (closed) {
            return; // a Hello from an agent that is going away would start a session nobody serves
          }
          slow = refused;
          session = generation;
        }
        w.write(Frame.newBuilder().setHello(hello.toBuilder().setSessionNumber(session)).build());
        Thread.sleep(helloInterval.toMillis() * (slow ? 10 : 1));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      LOG.fine("hello not sent: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      lock.notifyAll();
    }
    // The connection goes first: nothing this agent writes after close can reach the host.
    Transport.Connection c = connection;
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // closing
      }
    }
    hostGone();
    workers.shutdownNow();
  }
}
