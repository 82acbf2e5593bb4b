package dev.vmlet.agent;

import dev.vmlet.fs.UnixSockets;
import dev.vmlet.common.frame.ArrivingInputStream;
import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * The socket under one agent link: frames out through one writer (writers take turns), and one
 * reader thread that hands every frame from the agent to the handler of its kind. Frames that
 * answer nothing are counted; a guest that sends too many ({@link FloodGuard}) has its socket cut.
 * When the socket ends, for whatever reason, the end callback runs once, on the reader thread.
 */
final class LinkConnection {
  private static final Logger LOG = Logger.getLogger(LinkConnection.class.getName());

  private final String vmName;
  private final AFUNIXSocket socket;
  private final FrameWriter writer;
  private final FrameReader reader;
  private final FloodGuard flood;
  private volatile boolean closed;
  private volatile String cutReason;
  private volatile long lastArrivalNanos = System.nanoTime();

  LinkConnection(String vmName, AFUNIXSocket socket, FloodGuard flood) throws IOException {
    this.vmName = vmName;
    this.socket = socket;
    this.flood = flood;
    this.writer = new FrameWriter(socket.getOutputStream());
    this.reader = new FrameReader(new ArrivingInputStream(socket.getInputStream(), () -> lastArrivalNanos = System.nanoTime()),
        e -> LOG.warning("VM " + vmName + ": bad frame from agent: " + e.getMessage()));
  }

  /** Connects to the unix socket QEMU serves for the VM's agent port. */
  static AFUNIXSocket connect(Path socketPath, Duration timeout) throws IOException {
    try {
      return UnixSockets.connect(socketPath, timeout);
    } catch (IOException e) {
      throw new IOException("cannot connect to the agent socket " + socketPath + ": " + e.getMessage(), e);
    }
  }

  void send(Frame f) throws IOException {
    writer.write(f);
  }

  boolean closed() {
    return closed;
  }

  /** When the agent's last bytes arrived ({@link System#nanoTime}), in a whole frame or part of one. */
  long lastArrivalNanos() {
    return lastArrivalNanos;
  }

  /**
   * Starts the reader thread.
   *
   * @param each gets every frame from the agent, on the reader thread
   * @param ended gets why the link ended, once, after the last frame
   */
  void startReading(FrameConsumer each, Consumer<String> ended) {
    Thread t = new Thread(() -> readLoop(each, ended), "agent-link-" + vmName);
    t.setDaemon(true);
    t.start();
  }

  /** Takes one frame from the agent. */
  @FunctionalInterface
  interface FrameConsumer {
    void accept(Frame f) throws IOException;
  }

  private void readLoop(FrameConsumer each, Consumer<String> ended) {
    try {
      Frame f;
      while ((f = reader.read()) != null) {
        each.accept(f);
      }
    } catch (Exception e) {
      if (!closed) {
        LOG.info("VM " + vmName + ": agent link ended: " + e.getMessage());
      }
    } finally {
      closed = true;
      try {
        socket.close();
      } catch (IOException ignored) {
        // already gone
      }
      ended.accept(cutReason != null ? cutReason
          : "the agent link of VM " + vmName + " closed (VM stopped, or daemon shutting down)");
    }
  }

  /** Called on the reader thread only: a frame that answers nothing is counted and dropped. */
  void drop(Frame f) {
    boolean flooded = flood.dropped();
    LOG.fine("VM " + vmName + ": dropped unexpected " + f.getBodyCase() + " on stream " + f.getStreamId()
        + " (" + flood.total() + " so far)");
    if (flooded) {
      cutReason = flood.reason();
      LOG.warning("VM " + vmName + ": " + cutReason + " (" + flood.total() + " dropped in all)");
      try {
        socket.close(); // the read loop ends, every request fails with the reason
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  void close() throws IOException {
    closed = true;
    socket.close();
  }
}
