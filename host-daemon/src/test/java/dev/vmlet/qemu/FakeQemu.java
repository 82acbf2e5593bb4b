package dev.vmlet.qemu;

import com.google.gson.JsonObject;
import dev.vmlet.qmp.FakeQmpServer;
import java.io.Closeable;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * QEMU for tests of what the daemon does around it, behind {@link QemuLauncher}: a copy of {@code
 * sleep} named like QEMU is the process (its pid, pidfile, start time and name are what the daemon
 * checks; its signals and exit are real), {@link FakeQmpServer} is its QMP socket, and plain unix
 * sockets that accept and hold are its console and agent ports. As QEMU does, it ends on QMP
 * {@code quit}; {@link #crash()} and {@link #powerOff()} end it the other ways a QEMU goes.
 *
 * <p>{@link #exitAtOnce} makes the next launch a QEMU that refuses to start: a process that prints
 * and exits, started through the real {@link QemuProcess#launch}.
 */
public final class FakeQemu implements QemuLauncher, Closeable {
  private final Path binary;
  private final List<Closeable> open = new CopyOnWriteArrayList<>();
  private final List<Process> processes = new CopyOnWriteArrayList<>();
  private volatile String refusal;
  private volatile FakeQmpServer qmp;
  private volatile Process process;
  private volatile List<String> argv;
  /** The console and agent ports of the last launch, closed when its QEMU goes. */
  private volatile List<Closeable> ports = List.of();

  /** @param dir where the stand-in binary is put (a test's temporary directory) */
  public FakeQemu(Path dir) throws IOException {
    this.binary = standIn(dir);
  }

  /** A copy of {@code sleep} whose name says qemu, in {@code dir}: what the daemon takes for a QEMU process. */
  public static Path standIn(Path dir) throws IOException {
    Path b = dir.resolve("qemu-system-standin");
    if (!Files.exists(b)) {
      Files.copy(Path.of("/bin/sleep"), b, StandardCopyOption.COPY_ATTRIBUTES);
    }
    return b;
  }

  /** The next launch fails as a QEMU that prints {@code error} and exits 1 does. */
  public FakeQemu exitAtOnce(String error) {
    refusal = error;
    return this;
  }

  @Override
  public ProcessHandle launch(List<String> command, VmFiles files, Duration bound) throws IOException {
    argv = List.copyOf(command);
    String error = refusal;
    if (error != null) {
      refusal = null;
      return QemuProcess.launch(List.of("sh", "-c", "echo \"$0\" >&2; exit 1", error), files, bound);
    }
    Process p = new ProcessBuilder(binary.toString(), "600").start();
    processes.add(p);
    process = p;
    Files.writeString(files.pidFile(), p.pid() + "\n");
    FakeQmpServer server = FakeQmpServer.start(files.qmpSocket());
    open.add(server);
    qmp = server;
    List<Closeable> launched = List.of(listen(files.consoleSocket()), listen(files.agentSocket()));
    open.addAll(launched);
    ports = launched;
    server.on("quit", c -> {
      c.event("SHUTDOWN", shutdown(false, "host-qmp-quit"));
      c.answer(new JsonObject());
      exit(p, launched);
      c.closeConnection();
    });
    return p.toHandle();
  }

  /** QEMU dies (SIGKILL, a segfault): the process is gone, then its QMP connection closes. */
  public void crash() throws IOException {
    exit(process, ports);
    qmp.closeConnection();
  }

  /** The guest powers off: QEMU says SHUTDOWN (by the guest) and exits. */
  public void powerOff() throws IOException {
    qmp.event("SHUTDOWN", shutdown(true, "guest-shutdown"));
    exit(process, ports);
    qmp.closeConnection();
  }

  /** The QMP server of the last launch. */
  public FakeQmpServer qmp() {
    return qmp;
  }

  /** The process of the last launch. */
  public Process process() {
    return process;
  }

  /** The command line of the last launch. */
  public List<String> argv() {
    return argv;
  }

  /** Whether any process this fake started still runs. */
  public boolean anyRunning() {
    return processes.stream().anyMatch(Process::isAlive);
  }

  @Override
  public void close() throws IOException {
    for (Process p : processes) {
      p.destroyForcibly();
    }
    for (Closeable c : open) {
      c.close();
    }
  }

  /** The process ends and its ports close, as when QEMU exits. */
  private static void exit(Process p, List<Closeable> ports) throws IOException {
    try {
      p.destroyForcibly().waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Closeable c : ports) {
      c.close();
    }
  }

  private static JsonObject shutdown(boolean byGuest, String reason) {
    JsonObject data = new JsonObject();
    data.addProperty("guest", byGuest);
    data.addProperty("reason", reason);
    return data;
  }

  /**
   * A unix socket at {@code socket} that accepts and holds its connections, as QEMU's console and
   * agent chardevs do; closing it closes them too.
   */
  public static Closeable listen(Path socket) throws IOException {
    AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socket.toFile()));
    List<Socket> held = new CopyOnWriteArrayList<>();
    Thread t = new Thread(() -> {
      try {
        while (true) {
          held.add(server.accept());
        }
      } catch (IOException closed) {
        // the test is over
      }
    }, "fake-port");
    t.setDaemon(true);
    t.start();
    return () -> {
      server.close();
      for (Socket s : held) {
        s.close();
      }
    };
  }
}
