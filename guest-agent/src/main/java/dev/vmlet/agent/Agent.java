package dev.vmlet.agent;

import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.v1.Frame;
import dev.vmlet.proto.v1.Hello;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * The agent's session with the host: Hello until welcomed (bytes written before the host end is
 * connected may be lost), then answer requests. It only answers; nothing it receives but a
 * request is acted on. When the host goes away it says Hello again, on a new connection if the
 * transport needs one.
 */
final class Agent implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Agent.class.getName());
  static final String VERSION = "0.1.0";
  static final int PROTOCOL_VERSION = 1;

  private final Transport transport;
  private final Hello hello;
  private final Duration helloInterval;
  private final ExecutorService execs = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "exec");
    t.setDaemon(true);
    return t;
  });
  private final FileTransfers files = new FileTransfers();
  private final Object lock = new Object();
  private boolean welcomed;
  private volatile boolean closed;
  private volatile Transport.Connection connection;

  Agent(Transport transport, Hello hello, Duration helloInterval) {
    this.transport = transport;
    this.hello = hello;
    this.helloInterval = helloInterval;
  }

  /** Called when the host end goes away without the connection ending (the virtio port). */
  void hostGone() {
    synchronized (lock) {
      if (welcomed) {
        LOG.info("host disconnected; saying Hello again");
      }
      welcomed = false;
      lock.notifyAll();
    }
  }

  /** Runs until closed: connects, serves, reconnects with a short backoff. */
  void run() throws InterruptedException {
    long backoff = 100;
    while (!closed) {
      try (Transport.Connection c = transport.open()) {
        connection = c;
        backoff = 100;
        serve(c);
      } catch (IOException e) {
        if (!closed) {
          LOG.fine("link to host: " + e.getMessage());
        }
      } finally {
        connection = null;
        hostGone();
      }
      if (!closed) {
        Thread.sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  private void serve(Transport.Connection c) throws IOException {
    FrameWriter writer = new FrameWriter(c.out());
    FrameReader reader = new FrameReader(c.in(), e -> LOG.warning("bad frame from host: " + e.getMessage()));
    Thread greeter = new Thread(() -> greet(writer), "hello");
    greeter.setDaemon(true);
    greeter.start();
    try {
      Frame f;
      while ((f = reader.read()) != null) {
        switch (f.getBodyCase()) {
          case WELCOME -> {
            synchronized (lock) {
              if (!welcomed) {
                LOG.info("welcomed by host, session " + f.getWelcome().getSessionId());
              }
              welcomed = true;
            }
          }
          case EXEC_START -> execs.execute(new ExecRunner(f.getStreamId(), f.getExecStart(), writer::write));
          case FILE_WRITE_START, FILE_DATA, FILE_END -> files.onPushFrame(f, writer::write);
          case FILE_READ_START -> {
            Frame req = f;
            execs.execute(() -> FileTransfers.pull(req.getStreamId(), req.getFileReadStart(), writer::write));
          }
          case ERROR -> files.abort(f.getStreamId()); // the host cancels a push
          case HEARTBEAT -> { }
          default -> LOG.fine("ignoring " + f.getBodyCase() + " from host");
        }
      }
    } catch (dev.vmlet.common.frame.TruncatedFrameException e) {
      LOG.fine("host closed mid-frame");
    } finally {
      greeter.interrupt();
      files.abortAll();
    }
  }

  /** Sends Hello now and every interval while not welcomed. */
  private void greet(FrameWriter writer) {
    Frame frame = Frame.newBuilder().setHello(hello).build();
    try {
      while (!closed) {
        synchronized (lock) {
          while (welcomed && !closed) {
            lock.wait();
          }
        }
        writer.write(frame);
        Thread.sleep(helloInterval.toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      LOG.fine("hello not sent: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    closed = true;
    hostGone();
    execs.shutdownNow();
    Transport.Connection c = connection;
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }
}
