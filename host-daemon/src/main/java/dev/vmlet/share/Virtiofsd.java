package dev.vmlet.share;

import dev.vmlet.spec.Share;
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
 * QEMU's C virtiofsd (Debian's qemu-system-common), one per share of a running VM: its command
 * line, its start (bounded: its socket must appear) and its end. Each one's pid is kept in the VM's
 * run directory ({@code virtiofsd-N.pid}), so a daemon that restarted can still end them: the run
 * directory outlives the daemon, and a pid is only acted on while the process is still that VM's
 * virtiofsd (its command line names the VM's socket).
 *
 * <p>virtiofsd also ends on its own when QEMU closes its vhost-user socket, so one whose QEMU died
 * does not linger; the pidfiles cover the case where QEMU never connected (a failed start).
 */
public final class Virtiofsd {
  private static final Logger LOG = Logger.getLogger(Virtiofsd.class.getName());
  /** Where Debian's qemu-system-common installs it. */
  public static final Path BINARY = Path.of("/usr/lib/qemu/virtiofsd");
  static final Path SETSID = Path.of("/usr/bin/setsid");
  static final Path UNSHARE = Path.of("/usr/bin/unshare");
  /** Bound for virtiofsd to create its socket; it does so before anything else that can take time. */
  public static final Duration START_BOUND = Duration.ofSeconds(10);
  private static final Duration STOP_BOUND = Duration.ofSeconds(5);

  private Virtiofsd() {}

  /**
   * The argv of the virtiofsd for one share.
   * Its socket is root's only; the caller hands it to QEMU's user.
   */
  public static List<String> command(Path binary, Share share, Path socket) {
    List<String> a = new ArrayList<>();
    if (share.readOnly()) {
      // virtiofsd 7.2 has no read-only option: it runs in a mount namespace of its own in which
      // the directory is bound read-only onto itself, so the host refuses writes whatever the
      // guest mounts. The namespace goes with the process; the host's mounts are never touched.
      a.addAll(List.of(UNSHARE.toString(), "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
          "mount --bind -o ro -- \"$0\" \"$0\" && exec \"$@\"", share.hostPath()));
    }
    a.add(binary.toString());
    a.add("--socket-path=" + socket);
    // sandbox=namespace (the default, said aloud): virtiofsd pivots into the shared directory in
    // namespaces of its own, so a guest cannot name anything outside it. For a read-only share it
    // would bind the directory again, and a new bind drops the read-only flag; chroot keeps the
    // read-only bind above as its root, in the mount namespace that unshare made.
    // cache=auto: the guest may cache for a second, so a host change is seen within about that.
    a.addAll(List.of("-o", "source=" + share.hostPath(), "-o", "sandbox=" + (share.readOnly() ? "chroot" : "namespace"),
        "-o", "cache=auto"));
    return a;
  }

  /** The file that holds the pid of share {@code index}'s virtiofsd. */
  public static Path pidFile(Path runDir, int index) {
    return runDir.resolve("virtiofsd-" + index + ".pid");
  }

  /**
   * Starts one virtiofsd and returns once its socket exists.
   *
   * @param log its output (appended)
   * @throws IOException with its own output when it exited first or did not make its socket in time
   *     (it is then ended)
   */
  public static ProcessHandle start(List<String> argv, Path socket, Path pidFile, Path log) throws IOException {
    Files.deleteIfExists(socket);
    List<String> full = new ArrayList<>();
    if (Files.isExecutable(SETSID)) {
      full.add(SETSID.toString()); // a session of its own, like QEMU: a Ctrl-C to the daemon does not reach it
    }
    full.addAll(argv);
    Process p = new ProcessBuilder(full).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    Files.writeString(pidFile, Long.toString(p.pid()));
    long deadline = System.nanoTime() + START_BOUND.toNanos();
    try {
      while (!Files.exists(socket)) {
        if (!p.isAlive()) {
          throw new IOException("virtiofsd failed to start (exit " + p.exitValue() + "): " + tail(log));
        }
        if (System.nanoTime() > deadline) {
          stop(p.toHandle());
          throw new IOException("virtiofsd did not create its socket within " + START_BOUND.toSeconds() + " s: " + tail(log));
        }
        Thread.sleep(10);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting virtiofsd", e);
    }
    return p.toHandle();
  }

  /** Ends every virtiofsd whose pidfile is in {@code runDir} and that still serves a socket there. */
  public static void stopAll(Path runDir) {
    if (!Files.isDirectory(runDir)) {
      return;
    }
    try (DirectoryStream<Path> pids = Files.newDirectoryStream(runDir, "virtiofsd-*.pid")) {
      for (Path pidFile : pids) {
        find(pidFile, runDir).ifPresent(Virtiofsd::stop);
        Files.deleteIfExists(pidFile);
      }
    } catch (IOException e) {
      LOG.warning("cannot end the virtiofsd processes of " + runDir + ": " + e.getMessage());
    }
  }

  /** The live virtiofsd a pidfile names, if it is still the one serving a socket in {@code runDir}. */
  static Optional<ProcessHandle> find(Path pidFile, Path runDir) {
    try {
      long pid = Long.parseLong(Files.readString(pidFile).strip());
      String prefix = "--socket-path=" + runDir + "/";
      return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(h -> h.info().arguments()
          .map(args -> List.of(args).stream().anyMatch(x -> x.startsWith(prefix))).orElse(false));
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

  /** Polls: a virtiofsd from before a daemon restart is not our child, and the JDK's watch of those is slow. */
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
