package dev.vmlet.guest;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Stands in for QEMU's virtio-serial chardev in protocol tests: the agent connects to one unix
 * socket, the daemon's link to another, and bytes are copied both ways. As with the port, an agent
 * that goes away leaves the host's connection open (a new agent joins it), and a host that goes
 * away is seen by the agent (its connection is closed, so it reconnects). {@link #cut} drops both.
 */
final class LinkRelay implements AutoCloseable {
  final Path agentSocket;
  final Path hostSocket;
  private final ServerSocketChannel agentServer;
  private final ServerSocketChannel hostServer;
  private volatile SocketChannel agent;
  private volatile SocketChannel host;
  private volatile boolean agentMuted;
  private volatile boolean agentStalled;
  private volatile boolean agentMissesHostLoss;
  private volatile boolean agentHeld;
  /** Notified whenever a side connects or goes, and when a stall begins to hold the agent or ends. */
  private final Object changes = new Object();

  LinkRelay(Path dir) throws IOException {
    agentSocket = dir.resolve("agent.sock");
    hostSocket = dir.resolve("host.sock");
    agentServer = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(agentSocket));
    hostServer = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(hostSocket));
    daemon("relay-agent-accept", () -> acceptLoop(true));
    daemon("relay-host-accept", () -> acceptLoop(false));
  }

  private static void daemon(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
  }

  private void acceptLoop(boolean agentSide) {
    try {
      while (true) {
        SocketChannel c = (agentSide ? agentServer : hostServer).accept();
        synchronized (changes) {
          if (agentSide) {
            agent = c;
          } else {
            host = c;
          }
          changes.notifyAll();
        }
        if (agentSide) {
          daemon("relay-from-agent", () -> pump(c, () -> host, true));
        } else {
          daemon("relay-from-host", () -> pump(c, () -> agent, false));
        }
      }
    } catch (IOException e) {
      // closed
    }
  }

  // Channel reads and writes directly: the stream adapters of java.nio.channels.Channels share one
  // lock per channel, so a blocked read would stall the other direction's writes.
  private void pump(SocketChannel from, Supplier<SocketChannel> to, boolean fromAgent) {
    ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
    try {
      while (true) {
        if (fromAgent && agentStalled) {
          // Nobody reads: the agent's writes back up into the socket, then into the agent.
          holdWhileStalled();
        }
        if (from.read(buf) < 0) {
          break;
        }
        buf.flip();
        SocketChannel target = to.get();
        if (target != null && !(fromAgent && agentMuted)) {
          try {
            write(target, buf);
          } catch (IOException e) {
            // nobody on the other side now: the bytes are lost, as on the port
          }
        }
        buf.clear();
      }
    } catch (IOException | InterruptedException e) {
      // this side went away
    } finally {
      close(from);
      if (!fromAgent && !agentMissesHostLoss) {
        close(agent); // the agent sees the host go, as the port tells it
      }
      synchronized (changes) {
        if (!fromAgent && host == from) {
          host = null;
        }
        changes.notifyAll();
      }
    }
  }

  private void holdWhileStalled() throws InterruptedException {
    synchronized (changes) {
      agentHeld = true;
      changes.notifyAll();
      try {
        awaitChange("the end of a stall (a test that forgot stallAgent(false)?)", Duration.ofMinutes(5), () -> !agentStalled);
      } finally {
        agentHeld = false;
      }
    }
  }

  /** Waits, holding {@link #changes}, until {@code done}; fails after {@code timeout} naming {@code what}. */
  private void awaitChange(String what, Duration timeout, BooleanSupplier done) throws InterruptedException {
    synchronized (changes) {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!done.getAsBoolean()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw new IllegalStateException("the relay waited " + timeout.toMillis() + " ms for " + what);
        }
        TimeUnit.NANOSECONDS.timedWait(changes, left);
      }
    }
  }

  private static void close(SocketChannel c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  private static void write(SocketChannel to, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      to.write(buf);
    }
  }

  /**
   * Waits until both sides are connected through the relay. Bytes the agent sends before the host's
   * side is accepted are lost, as on the port, so a test that sends one Hello by hand waits first.
   */
  void awaitBothSides(Duration timeout) throws InterruptedException {
    awaitChange("both sides to connect", timeout, () -> agent != null && host != null);
  }

  /** Waits until the host's connection has ended and the relay has finished with it. */
  void awaitHostGone(Duration timeout) throws InterruptedException {
    awaitChange("the host's connection to end", timeout, () -> host == null);
  }

  /**
   * After {@link #stallAgent stallAgent(true)}, waits until the relay holds the agent back: from
   * then on nothing the agent sends leaves the relay (what it had taken before has been passed on).
   */
  void awaitAgentHeld(Duration timeout) throws InterruptedException {
    awaitChange("its agent side to be held back", timeout, () -> agentHeld);
  }

  /** While muted, whatever the agent sends is dropped (a hung guest, as the host sees it). */
  void muteAgent(boolean muted) {
    agentMuted = muted;
  }

  /** When set, a host that goes away leaves the agent's connection open: the agent does not learn of it. */
  void agentMissesHostLoss(boolean misses) {
    agentMissesHostLoss = misses;
  }

  /** While stalled, nothing the agent sends is read (a host that stops reading the port). */
  void stallAgent(boolean stalled) {
    synchronized (changes) {
      agentStalled = stalled;
      changes.notifyAll();
    }
  }

  /** Writes raw bytes to the agent, as if the host had sent them. Only while no frames flow. */
  void injectToAgent(byte[] bytes) throws IOException {
    write(agent, ByteBuffer.wrap(bytes));
  }

  /** Writes raw bytes to the host, as if the agent had sent them. Only while no frames flow. */
  void injectToHost(byte[] bytes) throws IOException {
    write(host, ByteBuffer.wrap(bytes));
  }

  /** Drops the current connections on both sides. */
  void cut() {
    close(agent);
    close(host);
  }

  @Override
  public void close() throws IOException {
    stallAgent(false); // a held pump goes on, finds its channel closed and ends
    cut();
    agentServer.close();
    hostServer.close();
  }
}
