package dev.vmlet.guest;

import com.google.protobuf.ByteString;
import dev.vmlet.common.frame.ArrivingInputStream;
import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.common.frame.TruncatedFrameException;
import dev.vmlet.proto.agent.v1.AgentProof;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Frame.BodyCase;
import dev.vmlet.proto.agent.v1.Heartbeat;
import dev.vmlet.proto.agent.v1.Hello;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.logging.Logger;

/**
 * The agent's session with the host: Hello until welcomed (bytes written before the host end is
 * connected may be lost), then answer requests. It only answers; nothing it receives but a
 * request is acted on, and each request is checked against the {@link Policy} first. This class
 * keeps the session (Hello, Welcome or Refused, the token proof, heartbeats, reconnecting); each
 * kind of frame goes to the handler registered for it in {@link #handlers}, and the requests in
 * flight live in {@link Streams}.
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

  private final Transport transport;
  private final VmToken token = new VmToken();
  private volatile Hello hello;
  private volatile VmIdentity identity = new VmIdentity(VmIdentity.FW_CFG);
  /** The identity this agent says Hello with; null until read (or when the host gives none). */
  private volatile VmIdentity.Values current;
  /**
   * Set when the agent took a new VM's identity and said Hello with it: at the next Welcome, after
   * the proof, the guest gets the host's clock (and by then the interface the new MAC).
   */
  private volatile Resumed resumed;
  /**
   * Where cloud-init wrote the instance id that start.sh gives the agent (cloud images): a clone
   * rewrites it, so that an agent restarted in the clone starts as the clone.
   */
  private volatile Path instanceIdFile = Path.of("/etc/vmlet/instance-id");
  private volatile SshHostKeys sshHostKeys = new SshHostKeys(SshHostKeys.ETC_SSH, SshHostKeys::run);
  private final Duration helloInterval;
  private final Streams streams;
  private final FrameHandlers handlers;
  private final Object lock = new Object();
  private boolean welcomed;
  private boolean refused;
  private long heartbeatMs = 5000;
  private volatile long lastFromHostNanos = System.nanoTime();
  private volatile int generation;
  private volatile FrameWriter writer;
  private volatile boolean closed;
  private volatile Transport.Connection connection;
  /** When (System.nanoTime) the host was last seen gone: where a resumed clone's timeline starts. */
  private volatile long hostGoneNanos = System.nanoTime();
  /** Why the last session ended, as the next Hello tells the host; null before any ended. */
  private volatile String lastSessionEnd;

  Agent(Transport transport, Hello hello, Duration helloInterval) {
    this(transport, hello, helloInterval, Policy.load(DEFAULT_POLICY));
  }

  /** Reads the VM token from {@code file} instead of fw_cfg (tests, and guests without fw_cfg). */
  void tokenFile(Path file) {
    token.file(file);
  }

  /** Reads the VM's identity from {@code file} instead of fw_cfg (tests). */
  void identityFile(Path file) {
    identity = new VmIdentity(file);
    sshHostKeys = new SshHostKeys(file.resolveSibling("ssh"), SshHostKeys::run);
    instanceIdFile = file.resolveSibling("instance-id");
  }

  Agent(Transport transport, Hello hello, Duration helloInterval, Policy policy) {
    this.transport = transport;
    Hello.Builder h = hello.toBuilder();
    if (h.getAgentStartId().isEmpty()) {
      h.setAgentStartId(GuestFacts.newStartId());
    }
    if (h.getProtocolVersion() == 0) {
      h.setProtocolVersion(PROTOCOL_VERSION).setMinProtocolVersion(MIN_PROTOCOL_VERSION);
    }
    this.hello = h.build();
    this.helloInterval = helloInterval;
    FilePushes pushes = FilePushes.forCpus(Runtime.getRuntime().availableProcessors(), this::onWorker);
    this.streams = new Streams(policy, this::sink, pushes);
    GuestPlatform platform = GuestPlatform.current();
    this.handlers = handlers(new ExecRequests(streams, platform, GuestFacts.isRoot(), () -> lastFromHostNanos),
        new FileRequests(streams, pushes, () -> lastFromHostNanos),
        new GuestRequests(streams, platform));
  }

  /** Every kind of frame the host sends, with its handler: the one place a kind is registered. */
  private FrameHandlers handlers(ExecRequests exec, FileRequests files, GuestRequests guest) {
    return new FrameHandlers()
        .on(BodyCase.WELCOME, this::onWelcome)
        .on(BodyCase.REFUSED, this::onRefused)
        .on(BodyCase.HEARTBEAT, this::onHeartbeat)
        .on(BodyCase.WINDOW_UPDATE, streams::onWindowUpdate)
        .on(BodyCase.ERROR, streams::onHostDrop)
        .on(BodyCase.EXEC_START, exec::start)
        .on(BodyCase.EXEC_INPUT, exec::input)
        .on(BodyCase.EXEC_RESIZE, exec::resize)
        .on(BodyCase.EXEC_CANCEL, exec::cancel)
        .on(BodyCase.FILE_WRITE_START, files::writeStart)
        .on(BodyCase.FILE_DATA, files::data)
        .on(BodyCase.FILE_END, files::end)
        .on(BodyCase.FILE_READ_START, files::readStart)
        .on(BodyCase.DIR_LIST, files::list)
        .on(BodyCase.GUEST_INFO_REQUEST, guest::info)
        .on(BodyCase.POWER, guest::power);
  }

  /** Runs a push's writing on the streams' workers (through a method: the streams are made after the pushes). */
  private void onWorker(Runnable work) {
    streams.submit(work);
  }

  /** The handlers of frames from the host (for tests). */
  FrameHandlers handlers() {
    return handlers;
  }

  /**
   * The host is gone (the port says so, the connection ended, or it stopped sending heartbeats):
   * the session ends, its streams are dropped, and the agent says Hello again.
   */
  void hostGone(String why) {
    hostGoneNanos = System.nanoTime();
    boolean was;
    Streams.Ended ended;
    synchronized (lock) {
      was = welcomed;
      welcomed = false;
      generation++;
      if (was) {
        lastSessionEnd = why; // before the greeter wakes: its Hello carries it
      }
      // Before the greeter wakes too: a stream the next session opens is never among these.
      ended = streams.detachAll();
      lock.notifyAll();
    }
    if (was) {
      LOG.info("session ended (" + why + ")" + (closed ? "" : "; saying Hello again")); // outside the lock: the Hello need not wait for the console
    }
    ended.stop("the session with the host ended");
  }

  /** Runs until closed: connects, serves, reconnects with a short backoff. */
  void run() throws InterruptedException {
    long backoff = 100;
    Thread watchdog = new Thread(this::watchHeartbeats, "agent-heartbeat-watch");
    watchdog.setDaemon(true);
    watchdog.start();
    while (!closed) {
      String ended = "the link to the host ended";
      try (Transport.Connection c = transport.open()) {
        connection = c;
        if (closed) {
          break; // closed while connecting: close() did not see this connection
        }
        backoff = 100;
        serve(c);
      } catch (IOException e) {
        ended = "the link to the host failed: " + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
        if (!closed) {
          LOG.fine("link to host: " + e.getMessage());
        }
      } finally {
        connection = null;
        writer = null;
        hostGone(ended);
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
        String why = "nothing from the host for " + silentMs + " ms (3 heartbeat intervals of " + limit / 3 + " ms)";
        LOG.warning(why);
        hostGone(why);
      }
    }
  }

  private void serve(Transport.Connection c) throws IOException {
    FrameWriter w = c.frameOutput() != null ? new FrameWriter(c.frameOutput()) : new FrameWriter(c.out());
    writer = w;
    // Any byte from the host counts as word from it, not only a whole frame (see ArrivingInputStream).
    FrameReader reader = new FrameReader(new ArrivingInputStream(c.in(), () -> lastFromHostNanos = System.nanoTime()),
        e -> LOG.warning("bad frame from host: " + e.getMessage()));
    Thread greeter = new Thread(() -> greet(w), "hello");
    greeter.setDaemon(true);
    greeter.start();
    try {
      Frame f;
      while ((f = reader.read()) != null) {
        // lastFromHostNanos is when the read that completed f returned (set as its bytes arrived).
        handlers.handle(f);
      }
    } catch (TruncatedFrameException e) {
      LOG.fine("host closed mid-frame");
    } finally {
      greeter.interrupt();
    }
  }

  private void onWelcome(Frame f) throws IOException {
    long t0 = System.nanoTime();
    if (!f.getWelcome().getChallenge().isEmpty()) {
      write(Frame.newBuilder().setProof(AgentProof.newBuilder()
          .setHmac(ByteString.copyFrom(token.proof(f.getWelcome())))).build());
    }
    boolean first;
    synchronized (lock) {
      // Welcomed before the clock and MAC below: the greeter, waking meanwhile, must not say Hello again.
      first = !welcomed;
      welcomed = true;
      refused = false;
      heartbeatMs = f.getWelcome().getHeartbeatIntervalMs() == 0 ? 5000 : f.getWelcome().getHeartbeatIntervalMs();
    }
    Resumed r = resumed;
    if (r != null) {
      resumed = null;
      settle(r, f.getWelcome().getHostTimeUnixMs(), t0);
    }
    if (first) {
      LOG.info("welcomed by host, session " + f.getWelcome().getSessionId() + ", protocol " + f.getWelcome().getProtocolVersion());
    }
  }

  private void onRefused(Frame f) {
    synchronized (lock) {
      if (!refused) {
        LOG.severe("the host refused this agent: " + f.getRefused().getMessage());
      }
      refused = true;
      welcomed = false; // keep saying Hello (slowly): a fixed token or an upgraded daemon may welcome it
    }
  }

  private void onHeartbeat(Frame f) throws IOException {
    if (f.getHeartbeat().getNoSession()) {
      boolean had;
      synchronized (lock) {
        had = welcomed;
      }
      if (had) {
        hostGone("a host link without our session (the old one ended unseen)");
      }
    } else if (!f.getHeartbeat().getReply()) {
      write(Frame.newBuilder().setHeartbeat(Heartbeat.newBuilder().setSequence(f.getHeartbeat().getSequence()).setReply(true)).build());
    }
  }

  /**
   * The clock and the MAC of a resumed clone, after the proof so that the host need not wait for
   * them, and on the thread that reads the host's frames, so that no request of the new session
   * runs before they are the new VM's ({@link VmIdentity#setClockAndMac}: libc's calls, else {@code date}
   * and {@code ip}). Then one
   * line with where the clone's start went in the guest.
   */
  private void settle(Resumed r, long hostTimeMs, long welcomeNanos) {
    long proofNanos = System.nanoTime();
    List<String> interfaces = r.previousMac.isEmpty() ? List.of() : VmIdentity.interfacesWith(r.previousMac);
    long foundNanos = System.nanoTime();
    String how = VmIdentity.setClockAndMac(hostTimeMs <= 0 ? 0 : hostTimeMs + ms(System.nanoTime() - welcomeNanos), interfaces, r.mac);
    long setNanos = System.nanoTime();
    // Off this thread (RSA keys take seconds under TCG; exec must not wait): a first frame out of the
    // new NIC, then new SSH host keys where the guest has sshd.
    SshHostKeys keys = sshHostKeys;
    Thread after = new Thread(() -> {
      VmIdentity.announce(VmIdentity.ROUTES);
      keys.renewIfAny();
    }, "clone-after-proof");
    after.setDaemon(true);
    after.start();
    LOG.info("resumed in a new VM: instance " + r.instanceId + ", hostname " + r.hostname + ", mac " + r.mac
        + "; ms after the host was seen gone: identity taken " + ms(r.takenNanos - r.goneNanos) + ", Hello written "
        + ms((r.helloNanos == 0 ? welcomeNanos : r.helloNanos) - r.goneNanos) + ", Welcome read " + ms(welcomeNanos - r.goneNanos)
        + ", proof written " + ms(proofNanos - r.goneNanos) + ", clock and MAC set " + ms(setNanos - r.goneNanos)
        + " (" + how + "); interfaces found " + ms(foundNanos - r.goneNanos) + ", Hello loop woke " + ms(r.checkNanos - r.goneNanos)
        + ", identity read " + ms(r.readNanos - r.goneNanos));
  }

  /**
   * A resumed clone's identity, taken before its Hello, until its Welcome sets the clock and the
   * MAC; and when (System.nanoTime) each step happened, for the line {@link #settle} logs.
   */
  private static final class Resumed {
    final String instanceId;
    final String hostname;
    /** The template's MAC, "" when unknown: no interface is changed then. */
    final String previousMac;
    final String mac;
    final long goneNanos;
    final long takenNanos;
    /** When the Hello loop began to check the identity, and when it had read it. */
    final long checkNanos;
    final long readNanos;
    volatile long helloNanos;

    Resumed(VmIdentity.Values next, String previousMac, long goneNanos, long checkNanos, long readNanos, long takenNanos) {
      this.checkNanos = checkNanos;
      this.readNanos = readNanos;
      this.instanceId = next.instanceId();
      this.hostname = next.hostname();
      this.previousMac = previousMac;
      this.mac = next.mac();
      this.goneNanos = goneNanos;
      this.takenNanos = takenNanos;
    }
  }

  /** Writes a session frame (stream 0) on the link being served. */
  private void write(Frame f) throws IOException {
    FrameWriter w = writer;
    if (w == null) {
      throw new IOException("no link to the host");
    }
    w.write(f);
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
        Resumed adopted = checkIdentity();
        Hello.Builder h = hello.toBuilder().setSessionNumber(session);
        String ended = lastSessionEnd;
        if (ended != null) {
          h.setPreviousSessionEnd(ended);
        }
        h.getBootTimesBuilder().setHelloMs(BootClock.nowMs());
        w.write(Frame.newBuilder().setHello(h).build());
        if (adopted != null) {
          adopted.helloNanos = System.nanoTime();
        }
        Thread.sleep(helloInterval.toMillis() * (slow ? 10 : 1));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      LOG.fine("hello not sent: " + e.getMessage());
    }
  }

  /**
   * Before each Hello: a VM resumed from a template finds another instance id in its identity
   * than the one this agent started with; it takes the new identity and says Hello as the new VM,
   * as a new agent start (nothing of the template's session is carried over).
   */
  private Resumed checkIdentity() {
    long checkNanos = System.nanoTime();
    VmIdentity.Values next = identity.read().orElse(null);
    long readNanos = System.nanoTime();
    if (next == null || next.instanceId().equals(hello.getInstanceId())) {
      current = next == null ? current : next;
      return null;
    }
    VmIdentity.adopt(next);
    VmIdentity.replaceInstanceId(instanceIdFile, next.instanceId());
    // Resumed again before a Welcome came: the MAC the interface has is still the first template's.
    Resumed before = resumed;
    Resumed r = new Resumed(next, before != null ? before.previousMac : current == null ? "" : current.mac(), hostGoneNanos,
        checkNanos, readNanos, System.nanoTime());
    current = next;
    resumed = r;
    // Only the hostname of the guest's facts changed (the OS, kernel and architecture are the template's).
    String hostname = GuestFacts.firstLine(Path.of("/proc/sys/kernel/hostname")).orElse(hello.getGuest().getHostname());
    hello = hello.toBuilder().setInstanceId(next.instanceId()).setAgentStartId(GuestFacts.newStartId())
        .setGuest(hello.getGuest().toBuilder().setHostname(hostname)).build();
    return r;
  }

  private static long ms(long nanos) {
    return nanos / 1_000_000;
  }

  /** The Hello this agent says now (for tests). */
  Hello hello() {
    return hello;
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
    hostGone("the agent is closing");
    streams.shutdown();
  }
}
