package dev.vmlet.it;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.image.MicroImageBuilder;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The daemon as its own process (`java -jar vmlet.jar daemon`), for tests that kill it with
 * SIGKILL: no shutdown hook runs, the socket file stays behind, the VMs go on.
 */
final class DaemonProcess {
  final VmletPaths paths;
  private final Path log;
  private Process process;

  /** Builds the micro image when it is stale; state and sockets go under {@code dir}. */
  DaemonProcess(Path dir) throws Exception {
    Qemu.assumeInstalled();
    Qemu.reachable(dir);
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    MicroImageBuilder.build(Path.of(System.getProperty("vmlet.agentJar")), cache.resolve("images/micro"), l -> { });
    paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), cache, dir.resolve("run/vmlet.sock"));
    log = dir.resolve("daemon.log");
  }

  /** Starts a daemon and waits up to 60 s for its socket. */
  void start() throws Exception {
    Path jar = Path.of(System.getProperty("vmlet.agentJar")).getParent().getParent().getParent()
        .resolve("host-daemon/target/vmlet.jar");
    List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-jar", jar.toString(),
        "daemon", "--state-dir", paths.stateDir().toString(), "--run-dir", paths.runDir().toString(),
        "--cache-dir", paths.cacheDir().toString()));
    if (Boolean.getBoolean("vmlet.trace.hops")) {
      command.add(1, "-Dvmlet.trace.hops=true"); // the bench's hop trace (MicroVmBench)
    }
    ProcessBuilder pb = new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(new File(log.toString())));
    pb.environment().remove("VMLET_SOCKET");
    Process p = pb.start();
    process = p;
    try {
      Poll.until("the daemon to listen on " + paths.socket(), Duration.ofSeconds(60), () -> {
        if (!p.isAlive()) {
          throw new AssertionError("the daemon exited with " + p.exitValue());
        }
        return DaemonClient.isListening(paths.socket());
      });
    } catch (AssertionError e) {
      throw new AssertionError("daemon did not start (" + e.getMessage() + "): " + Files.readString(log), e);
    }
  }

  /** SIGKILL, and waits for the process to be gone. */
  void kill() throws Exception {
    process.destroyForcibly();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      throw new AssertionError("the daemon outlived SIGKILL for 10 s");
    }
  }

  /** The running daemon's pid. */
  long pid() {
    return process.pid();
  }

  DaemonClient client() {
    return new DaemonClient(paths.socket());
  }

  /** Kills the daemon if it runs (test clean-up). */
  void destroy() throws Exception {
    if (process != null) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
