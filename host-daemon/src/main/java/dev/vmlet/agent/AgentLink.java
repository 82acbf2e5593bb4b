package dev.vmlet.agent;

import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.v1.ExecStart;
import dev.vmlet.proto.v1.Frame;
import dev.vmlet.proto.v1.Hello;
import dev.vmlet.proto.v1.StreamError;
import dev.vmlet.proto.v1.Welcome;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
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
 * instance id.
 */
public final class AgentLink implements Closeable {
  private static final Logger LOG = Logger.getLogger(AgentLink.class.getName());
  public static final int PROTOCOL_VERSION = 1;

  private final String vmName;
  private final String instanceId;
  private final AFUNIXSocket socket;
  private final FrameWriter writer;
  private final FrameReader reader;
  private final Consumer<Hello> onReady;
  private final Runnable onClose;
  private final Map<Integer, StreamListener> streams = new ConcurrentHashMap<>();
  private final AtomicInteger nextStream = new AtomicInteger(1);
  private final String sessionId = UUID.randomUUID().toString();
  private volatile Hello hello;
  private volatile boolean closed;
  private long dropped;

  private AgentLink(String vmName, String instanceId, AFUNIXSocket socket, Consumer<Hello> onReady, Runnable onClose)
      throws IOException {
    this.vmName = vmName;
    this.instanceId = instanceId;
    this.socket = socket;
    this.writer = new FrameWriter(socket.getOutputStream());
    this.reader = new FrameReader(socket.getInputStream(),
        e -> LOG.warning("VM " + vmName + ": bad frame from agent: " + e.getMessage()));
    this.onReady = onReady;
    this.onClose = onClose;
  }

  /**
   * Connects to the agent socket and starts reading.
   *
   * @param onReady called once, on the reader thread, when a Hello with the right instance id came
   * @param onClose called once when the link closes
   */
  public static AgentLink connect(String vmName, String instanceId, Path socketPath, Duration timeout,
      Consumer<Hello> onReady, Runnable onClose) throws IOException {
    AFUNIXSocket s = AFUNIXSocket.newInstance();
    try {
      s.connect(AFUNIXSocketAddress.of(socketPath.toFile()), (int) timeout.toMillis());
    } catch (IOException e) {
      s.close();
      throw new IOException("cannot connect to the agent socket " + socketPath + ": " + e.getMessage(), e);
    }
    AgentLink link = new AgentLink(vmName, instanceId, s, onReady, onClose);
    Thread t = new Thread(link::readLoop, "agent-link-" + vmName);
    t.setDaemon(true);
    t.start();
    return link;
  }

  /** The agent's Hello, once it has said one; null before. */
  public Hello hello() {
    return hello;
  }

  /**
   * Starts a program in the guest.
   *
   * @throws IOException if the agent is not connected or the request cannot be sent
   */
  public int exec(ExecStart start, ExecListener listener) throws IOException {
    return open(Frame.newBuilder().setExecStart(start), listener, "exec");
  }

  /**
   * Starts writing a file in the guest; send its data with {@link #pushData} and finish with
   * {@link #pushEnd}. The listener gets FileDone once the guest renamed the file into place.
   */
  public int openPush(dev.vmlet.proto.v1.FileWriteStart start, TransferListener listener) throws IOException {
    return open(Frame.newBuilder().setFileWriteStart(start), listener, "a file push");
  }

  /** Sends up to 32 KiB of a push; blocks while the link is full. */
  public void pushData(int stream, byte[] data, int off, int len) throws IOException {
    writer.write(Frame.newBuilder().setStreamId(stream)
        .setFileData(dev.vmlet.proto.v1.FileData.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(data, off, len)))
        .build());
  }

  /** Ends a push: the guest checks size and digest against what it received before it renames. */
  public void pushEnd(int stream, long size, String sha256) throws IOException {
    writer.write(Frame.newBuilder().setStreamId(stream)
        .setFileEnd(dev.vmlet.proto.v1.FileEnd.newBuilder().setSize(size).setSha256(sha256)).build());
  }

  /** Tells the guest to drop a stream (a push whose source failed); its listener is told too. */
  public void cancel(int stream, String reason) {
    StreamListener l = streams.remove(stream);
    try {
      writer.write(Frame.newBuilder().setStreamId(stream).setError(StreamError.newBuilder().setMessage(reason)).build());
    } catch (IOException e) {
      // the link is gone: the guest drops unfinished pushes itself
    }
    if (l != null) {
      l.failed(reason);
    }
  }

  /** Reads a file from the guest: info, data, done on the listener. */
  public int pull(String path, TransferListener listener) throws IOException {
    return open(Frame.newBuilder().setFileReadStart(dev.vmlet.proto.v1.FileReadStart.newBuilder().setPath(path)), listener,
        "a file pull");
  }

  private int open(Frame.Builder request, StreamListener listener, String what) throws IOException {
    if (hello == null) {
      throw new IOException("the agent of VM " + vmName + " has not connected yet");
    }
    int id = nextStream.getAndIncrement();
    streams.put(id, listener);
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
        handle(f);
      }
    } catch (Exception e) {
      if (!closed) {
        LOG.info("VM " + vmName + ": agent link ended: " + e.getMessage());
      }
    } finally {
      closed = true;
      failAll("the agent link of VM " + vmName + " closed (VM stopped or agent gone)");
      try {
        socket.close();
      } catch (IOException ignored) {
        // already gone
      }
      onClose.run();
    }
  }

  private void handle(Frame f) throws IOException {
    switch (f.getBodyCase()) {
      case HELLO -> handleHello(f.getHello());
      case HEARTBEAT -> { }
      case EXEC_OUTPUT -> {
        if (!(streams.get(f.getStreamId()) instanceof ExecListener l)) {
          drop(f);
        } else if (f.getExecOutput().getFd() == dev.vmlet.proto.v1.ExecOutput.Fd.STDERR) {
          l.stderr(f.getExecOutput().getData().toByteArray());
        } else {
          l.stdout(f.getExecOutput().getData().toByteArray());
        }
      }
      case EXEC_EXIT -> {
        if (streams.get(f.getStreamId()) instanceof ExecListener l) {
          streams.remove(f.getStreamId());
          l.exit(f.getExecExit());
        } else {
          drop(f);
        }
      }
      case FILE_INFO, FILE_DATA -> {
        if (streams.get(f.getStreamId()) instanceof TransferListener l) {
          if (f.hasFileInfo()) {
            l.info(f.getFileInfo());
          } else {
            l.data(f.getFileData().getData().toByteArray());
          }
        } else {
          drop(f);
        }
      }
      case FILE_DONE -> {
        if (streams.get(f.getStreamId()) instanceof TransferListener l) {
          streams.remove(f.getStreamId());
          l.done(f.getFileDone());
        } else {
          drop(f);
        }
      }
      case ERROR -> {
        StreamListener l = streams.remove(f.getStreamId());
        if (l == null) {
          drop(f);
        } else {
          StreamError err = f.getError();
          l.failed(err.getMessage());
        }
      }
      default -> drop(f);
    }
  }

  private void handleHello(Hello h) throws IOException {
    if (!h.getInstanceId().equals(instanceId)) {
      LOG.warning("VM " + vmName + ": Hello from instance '" + h.getInstanceId() + "', expected " + instanceId + "; ignored");
      return;
    }
    writer.write(Frame.newBuilder()
        .setWelcome(Welcome.newBuilder().setSessionId(sessionId).setProtocolVersion(PROTOCOL_VERSION))
        .build());
    Hello previous = hello;
    if (previous == null || !previous.getBootId().equals(h.getBootId())) {
      if (previous != null) {
        // A new boot: whatever ran in the old one is gone.
        failAll("the guest of VM " + vmName + " rebooted");
      }
      hello = h;
      LOG.info("VM " + vmName + ": agent " + h.getAgentVersion() + " ready (" + h.getGuest().getKernel() + ")");
      onReady.accept(h);
    }
  }

  private void failAll(String reason) {
    for (Integer id : streams.keySet()) {
      StreamListener l = streams.remove(id);
      if (l != null) {
        l.failed(reason);
      }
    }
  }

  private void drop(Frame f) {
    dropped++;
    LOG.fine("VM " + vmName + ": dropped unexpected " + f.getBodyCase() + " on stream " + f.getStreamId()
        + " (" + dropped + " so far)");
  }

  @Override
  public void close() throws IOException {
    closed = true;
    socket.close();
  }
}
