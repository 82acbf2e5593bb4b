package dev.vmlet.guest;

import dev.vmlet.agent.AgentException;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.common.testing.Poll;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import dev.vmlet.proto.agent.v1.StreamError;
import java.util.List;

/**
 * The real agent and the real daemon link, joined by a {@link LinkRelay} over unix sockets: the
 * protocol without a VM. Agents and links can be replaced (restarts, reconnections).
 */
final class ProtocolHarness implements AutoCloseable {
  static final String INSTANCE = "i-1";
  final LinkRelay relay;
  final BlockingQueue<Hello> ready = new LinkedBlockingQueue<>();
  final BlockingQueue<String> lost = new LinkedBlockingQueue<>();
  private final Policy policy;
  private final Duration heartbeat;
  Agent agent;
  AgentLink link;

  ProtocolHarness(Path dir, Policy policy, Duration heartbeat) throws Exception {
    this.relay = new LinkRelay(dir);
    this.policy = policy;
    this.heartbeat = heartbeat;
    startAgent();
    connectLink();
    awaitReady();
  }

  ProtocolHarness(Path dir) throws Exception {
    this(dir, Policy.allowAll(), AgentLink.DEFAULT_HEARTBEAT);
  }

  /** Starts a new agent process (as a restart would: a new start id). */
  void startAgent() {
    Hello hello = Hello.newBuilder().setInstanceId(INSTANCE).setBootId("b-1").setAgentVersion(Agent.VERSION).build();
    agent = new Agent(new UnixSocketTransport(relay.agentSocket), hello, Duration.ofMillis(100), policy);
    Agent a = agent;
    Thread t = new Thread(() -> {
      try {
        a.run();
      } catch (InterruptedException ignored) {
        // stopped
      }
    }, "agent");
    t.setDaemon(true);
    t.start();
  }

  /** Connects a new host link (as a restarted daemon would). */
  void connectLink() throws Exception {
    IOException[] last = {null};
    try {
      link = Poll.forValue("the host link to connect to the relay", Duration.ofSeconds(10), () -> {
        try {
          return connectOnce();
        } catch (IOException e) {
          last[0] = e;
          return null;
        }
      });
    } catch (AssertionError e) {
      if (last[0] != null) {
        e.addSuppressed(last[0]); // the last refusal says more than the time-out
      }
      throw e;
    }
  }

  private AgentLink connectOnce() throws IOException {
    return AgentLink.connect("t", INSTANCE, relay.hostSocket, Duration.ofSeconds(5), heartbeat, new AgentLink.Events() {
      @Override
      public void ready(Hello h) {
        ready.add(h);
      }

      @Override
      public void lost(String reason) {
        lost.add(reason);
      }

      @Override
      public void closed() {
      }
    });
  }

  Hello awaitReady() throws InterruptedException {
    Hello h = ready.poll(10, TimeUnit.SECONDS);
    if (h == null) {
      throw new AssertionError("the agent did not become ready within 10 s");
    }
    return h;
  }

  /** What one exec produced. */
  record Result(String stdout, String stderr, ExecExit exit) {}

  /** An exec's output and end as they arrive. */
  static class Recorder implements ExecListener {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    final ByteArrayOutputStream err = new ByteArrayOutputStream();
    final CompletableFuture<Result> result = new CompletableFuture<>();
    final BlockingQueue<byte[]> chunks = new LinkedBlockingQueue<>();
    volatile int id;

    @Override
    public synchronized void stdout(byte[] data) {
      out.writeBytes(data);
      chunks.add(data);
    }

    @Override
    public synchronized void stderr(byte[] data) {
      err.writeBytes(data);
    }

    @Override
    public synchronized void exit(ExecExit exit) {
      result.complete(new Result(out.toString(), err.toString(), exit));
    }

    @Override
    public void failed(String reason) {
      result.completeExceptionally(new IOException(reason));
    }

    @Override
    public void failed(StreamError error) {
      result.completeExceptionally(new AgentException(error));
    }

    Result await() throws Exception {
      return result.get(30, TimeUnit.SECONDS);
    }
  }

  Recorder start(ExecStart start) throws IOException {
    Recorder r = new Recorder();
    r.id = link.exec(start, r);
    return r;
  }

  Result run(String... argv) throws Exception {
    return start(ExecStart.newBuilder().addAllArgv(List.of(argv)).build()).await();
  }

  @Override
  public void close() throws Exception {
    if (link != null) {
      link.close();
    }
    if (agent != null) {
      agent.close();
    }
    relay.close();
  }
}
