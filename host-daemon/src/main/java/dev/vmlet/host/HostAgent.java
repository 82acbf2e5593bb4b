package dev.vmlet.host;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.proto.agent.v1.Hello;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * The agent for {@code @host}: the same vmlet agent that runs in guests, started by the daemon as
 * a child process on its own host and joined to it over a private unix socket (0600, in the run
 * directory). So host stages get the same exec, files and credit as VM stages. The process is
 * restarted when it dies (at most once a second) and killed when the daemon closes.
 */
public final class HostAgent implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(HostAgent.class.getName());
  static final String INSTANCE = "host";

  private final List<String> command;
  private final Path socket;
  private final Duration heartbeat;
  private final AFUNIXServerSocket server;
  private final Thread supervisor;
  private volatile boolean closed;
  private Process process;
  private AgentLink link;
  private boolean ready;

  private HostAgent(List<String> command, Path socket, Duration heartbeat) throws IOException {
    this.command = command;
    this.socket = socket;
    this.heartbeat = heartbeat;
    Files.createDirectories(socket.getParent());
    Files.deleteIfExists(socket);
    this.server = AFUNIXServerSocket.newInstance();
    server.bind(AFUNIXSocketAddress.of(socket.toFile()));
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    this.supervisor = new Thread(this::supervise, "host-agent");
    supervisor.setDaemon(true);
  }

  /**
   * Starts the agent jar with the daemon's own Java.
   *
   * @param runDir where the private socket goes
   */
  public static HostAgent start(Path agentJar, Path runDir) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    return start(List.of(java, "-XX:TieredStopAtLevel=1", "-jar", agentJar.toString()), runDir.resolve("host-agent.sock"),
        AgentLink.DEFAULT_HEARTBEAT);
  }

  /**
   * Starts an agent with {@code command} (to which the socket and instance options are added).
   */
  public static HostAgent start(List<String> command, Path socket, Duration heartbeat) throws IOException {
    HostAgent a = new HostAgent(command, socket, heartbeat);
    a.supervisor.start();
    return a;
  }

  /**
   * The link to the host's agent, waiting up to {@code timeout} for it to be ready.
   *
   * @throws IllegalStateException when it is not ready in time
   */
  public synchronized AgentLink link(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!ready && !closed) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new IllegalStateException("the host's agent is not ready (see the daemon's log); try again shortly");
      }
      wait(Math.max(1, left / 1_000_000));
    }
    if (closed) {
      throw new IllegalStateException("the daemon is stopping");
    }
    return link;
  }

  private void supervise() {
    while (!closed) {
      long started = System.nanoTime();
      try {
        runOnce();
      } catch (IOException e) {
        if (!closed) {
          LOG.warning("host agent: " + e.getMessage());
        }
      } catch (InterruptedException e) {
        return;
      }
      long ran = (System.nanoTime() - started) / 1_000_000;
      if (!closed && ran < 1000) {
        try {
          Thread.sleep(1000 - ran); // a crash loop costs at most one start a second
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  /** One life of the agent process: start it, take its connection, serve until it ends. */
  private void runOnce() throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(command);
    argv.addAll(List.of("--unix-socket", socket.toString(), "--instance-id", INSTANCE));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    synchronized (this) {
      process = p;
    }
    try {
      server.setSoTimeout(30_000);
      AFUNIXSocket s = server.accept();
      AgentLink l = AgentLink.over(INSTANCE, INSTANCE, s, heartbeat, new AgentLink.Events() {
        @Override
        public void ready(Hello hello) {
          setReady(true);
        }

        @Override
        public void lost(String reason) {
          setReady(false);
        }

        @Override
        public void closed() {
          setReady(false);
        }
      });
      synchronized (this) {
        link = l;
      }
      int code = p.waitFor();
      l.close();
      if (!closed) {
        LOG.warning("host agent exited with " + code + "; starting it again");
      }
    } finally {
      p.destroyForcibly();
      setReady(false);
    }
  }

  private synchronized void setReady(boolean r) {
    ready = r;
    notifyAll();
  }

  /** The running agent process, for tests; null between lives. */
  synchronized Process process() {
    return process;
  }

  @Override
  public void close() {
    closed = true;
    supervisor.interrupt();
    synchronized (this) {
      if (process != null) {
        process.destroyForcibly();
      }
      notifyAll();
    }
    try {
      server.close();
      Files.deleteIfExists(socket);
    } catch (IOException e) {
      LOG.warning("cannot remove " + socket + ": " + e.getMessage());
    }
  }
}
