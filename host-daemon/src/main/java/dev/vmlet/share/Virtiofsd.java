package dev.vmlet.share;

import dev.vmlet.spec.Share;
import dev.vmlet.proc.Sidecar;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU's C virtiofsd (Debian's qemu-system-common), one per share of a running VM: its command
 * line, its start and its end ({@link Sidecar}: its pid in the VM's run directory as
 * {@code virtiofsd-N.pid}, acted on only while its command line still names the VM's socket).
 *
 * <p>virtiofsd also ends on its own when QEMU closes its vhost-user socket, so one whose QEMU died
 * does not linger; the pidfiles cover the case where QEMU never connected (a failed start).
 */
public final class Virtiofsd {
  /** Where Debian's qemu-system-common installs it. */
  public static final Path BINARY = Path.of("/usr/lib/qemu/virtiofsd");
  static final Path UNSHARE = Path.of("/usr/bin/unshare");
  /** Bound for virtiofsd to create its socket; it does so before anything else that can take time. */
  public static final Duration START_BOUND = Duration.ofSeconds(10);

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
    return Sidecar.start("virtiofsd", argv, socket, pidFile, log, START_BOUND);
  }

  /** Ends every virtiofsd whose pidfile is in {@code runDir} and that still serves a socket there. */
  public static void stopAll(Path runDir) {
    Sidecar.stopAll(runDir, "virtiofsd-*.pid", "--socket-path=" + runDir + "/");
  }
}
