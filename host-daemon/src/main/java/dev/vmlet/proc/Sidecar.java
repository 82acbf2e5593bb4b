package dev.vmlet.proc;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * A helper process that runs beside one VM's QEMU and serves it a unix socket (virtiofsd for a
 * share, swtpm for a TPM): its start, bounded by the socket appearing, and its end. Each one's pid
 * is kept in the VM's run directory, so a daemon that restarted can still end them: the run
 * directory outlives the daemon, and a pid is only acted on while the process still names a socket
 * in that run directory on its command line (a recycled pid is left alone).
 */
public final class Sidecar {
  private static final Logger LOG = Logger.getLogger(Sidecar.class.getName());
  static final Path SETSID = Path.of("/usr/bin/setsid");
  private static final Duration STOP_BOUND = Duration.ofSeconds(5);

  private Sidecar() {}

  /**
   * Starts one and returns once its socket exists.
   *
   * @param what its name in messages ("virtiofsd", "swtpm")
   * @param log its output (appended)
   * @throws IOException with its own output when it exited first or did not make its socket within
   *     {@code bound} (it is then ended)
   */
  public static ProcessHandle start(String what, List<String> argv, Path socket, Path pidFile, Path log, Duration bound)
      throws IOException {
    Files.deleteIfExists(socket);
    List<String> full = new ArrayList<>();
    if (Files.isExecutable(SETSID)) {
      full.add(SETSID.toString()); // a session of its own, like QEMU: a Ctrl-C to the daemon does not reach it
    }
    full.addAll(argv);
    Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    Files.writeString(pidFile, Long.toString(p.pid()));
    long deadline = System.nanoTime() + bound.toNanos();
    try {
      while (!Files.exists(socket)) {
        if (!p.isAlive()) {
          throw new IOException(what + " failed to start (exit " + p.exitValue() + "): " + tail(log));
        }
        if (System.nanoTime() > deadline) {
          stop(p.toHandle());
          throw new IOException(what + " did not create its socket within " + bound.toSeconds() + " s: " + tail(log));
        }
        Thread.sleep(10);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting " + what, e);
    }
    return p.toHandle();
  }

  /**
   * Ends every process whose pidfile in {@code runDir} matches {@code glob} and that still has an
   * argument starting with {@code argPrefix}; deletes the pidfiles.
   */
  public static void stopAll(Path runDir, String glob, String argPrefix) {
    if (!Files.isDirectory(runDir)) {
      return;
    }
    try (DirectoryStream<Path> pids = Files.newDirectoryStream(runDir, glob)) {
      for (Path pidFile : pids) {
        find(pidFile, argPrefix).ifPresent(Sidecar::stop);
        Files.deleteIfExists(pidFile);
      }
    } catch (IOException e) {
      LOG.warning("cannot end the " + glob + " processes of " + runDir + ": " + e.getMessage());
    }
  }

  /** The live process a pidfile names, if it still has an argument starting with {@code argPrefix}. */
  public static Optional<ProcessHandle> find(Path pidFile, String argPrefix) {
    try {
      long pid = Long.parseLong(Files.readString(pidFile).strip());
      return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(h -> h.info().arguments()
          .map(args -> List.of(args).stream().anyMatch(x -> x.startsWith(argPrefix))).orElse(false));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static void stop(ProcessHandle h) {
    h.destroy();
    if (!await(h)) {
      h.destroyForcibly();
      await(h);
    }
  }

  /** Polls: one from before a daemon restart is not our child, and the JDK's watch of those is slow. */
  private static boolean await(ProcessHandle h) {
    long deadline = System.nanoTime() + STOP_BOUND.toNanos();
    while (h.isAlive()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return !h.isAlive();
      }
    }
    return true;
  }

  private static String tail(Path log) throws IOException {
    String s = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8).strip() : "";
    return s.isEmpty() ? "no output" : s.substring(Math.max(0, s.length() - 2000));
  }
}
