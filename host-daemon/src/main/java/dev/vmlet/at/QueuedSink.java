package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import java.io.IOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Takes one or more streams' chunks off the link threads, hands each on (it may wait: the next
 * agent's credit, a file's push), and only then returns its credit to the producing agent. So what
 * waits here is bounded by the producers' windows. Ends once every producer ended.
 */
abstract class QueuedSink extends Thread {
  /** Data to pass on, and the credit to return for it once it was: the producer's bytes. */
  record Chunk(byte[] data, int credit, boolean eof, Producer from) {}

  /** A producing exec: its link and its stream id, known once its exec was sent. */
  static final class Producer {
    final AgentLink link;
    private int id = -1;

    Producer(AgentLink link) {
      this.link = link;
    }

    synchronized void started(int streamId) {
      id = streamId;
      notifyAll();
    }

    /** The stream id; waits for it (data can arrive before {@code exec} returned it). */
    synchronized int id() throws InterruptedException {
      while (id < 0) {
        wait(100);
      }
      return id;
    }

    /** Returns credit for bytes that were taken. */
    void consumed(int bytes) {
      if (bytes <= 0) {
        return;
      }
      try {
        link.consumed(id(), bytes);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Bytes waiting in the sinks of one line right now, and the most there ever were. */
  static final class Held {
    private final AtomicLong now = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    void add(long n) {
      peak.accumulateAndGet(now.addAndGet(n), Math::max);
    }

    long peak() {
      return peak.get();
    }
  }

  // The producers' windows bound the bytes; the count of chunks is bounded by them too (≥ 1 byte each).
  private final BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(4096);
  private final Held held;
  private int producers;

  QueuedSink(String name, int producers, Held held) {
    super(name);
    setDaemon(true);
    this.producers = producers;
    this.held = held;
  }

  void add(Chunk c) {
    held.add(c.data().length);
    queue.add(c);
  }

  abstract void write(byte[] data) throws IOException;

  abstract void end() throws IOException;

  @Override
  public void run() {
    boolean broken = false;
    try {
      while (true) {
        Chunk c = queue.take();
        if (c.eof()) {
          if (--producers > 0) {
            continue;
          }
          if (!broken) {
            end();
          }
          return;
        }
        if (!broken && c.data().length > 0) {
          try {
            write(c.data());
          } catch (IOException e) {
            broken = true; // the reader ended (head -1): the rest is dropped, its credit still returned
          }
        }
        held.add(-c.data().length);
        c.from().consumed(c.credit());
      }
    } catch (IOException e) {
      // the reader is gone
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A pipe: output into the next stage's stdin. */
  static final class Forwarder extends QueuedSink {
    private final AgentLink to;
    private final int toId;

    Forwarder(AgentLink to, int toId, int producers, Held held) {
      super("pipe-to-" + toId, producers, held);
      this.to = to;
      this.toId = toId;
    }

    @Override
    void write(byte[] data) throws IOException {
      to.execInput(toId, data, 0, data.length, false);
    }

    @Override
    void end() throws IOException {
      to.execInput(toId, new byte[0], 0, 0, true);
    }
  }
}
