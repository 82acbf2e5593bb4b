package dev.vmlet.tpm;

import dev.vmlet.proc.Sidecar;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A VM's TPM 2.0: Debian's swtpm in socket mode, one per VM with a TPM, started before QEMU and
 * ended with it. Its state (the TPM's keys and NV memory) lives in the VM's state directory, so it
 * persists across restarts and goes with the VM's delete. It runs as QEMU's user when the daemon is
 * root (the caller puts {@code setpriv} in front), in a session of its own, with swtpm's own seccomp
 * filter; its pid is kept in the run directory ({@code swtpm.pid}, see {@link Sidecar}) so a daemon
 * that restarted can still end it.
 *
 * <p>{@code --terminate}: swtpm also ends on its own when QEMU's connection goes, so one whose QEMU
 * died does not linger; the pidfile covers a QEMU that never connected (a failed start).
 */
public final class Swtpm {
  /** Where Debian's swtpm installs it. */
  public static final Path BINARY = Path.of("/usr/bin/swtpm");
  /** Bound for swtpm to create its socket; it does so at once (the TPM's state is made on QEMU's first command). */
  public static final Duration START_BOUND = Duration.ofSeconds(10);
  static final String PID_FILE = "swtpm.pid";

  private Swtpm() {}

  /**
   * The argv of a VM's swtpm.
   *
   * @param prefix what runs it (setpriv as QEMU's user), or empty
   * @param stateDir the TPM's state directory, which must exist and be writable by the user it runs as
   * @param socket its control socket, which QEMU's {@code -chardev socket} connects to
   */
  public static List<String> command(List<String> prefix, Path binary, Path stateDir, Path socket) {
    for (Path p : List.of(stateDir, socket)) {
      if (p.toString().contains(",")) {
        // swtpm splits its option values at commas and has no escape for them.
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, "tpm: swtpm cannot take the path " + p
            + ", which holds a comma; give the daemon a state directory without one");
      }
    }
    List<String> a = new ArrayList<>(prefix);
    a.addAll(List.of(binary.toString(), "socket", "--tpm2",
        "--tpmstate", "dir=" + stateDir + ",mode=0600",
        "--ctrl", "type=unixio,path=" + socket + ",mode=0600",
        // Warnings and errors to its output, which the daemon appends to the VM's swtpm.log.
        "--log", "fd=1,level=1",
        "--terminate"));
    return a;
  }

  /** The file that holds the pid of the VM's swtpm. */
  public static Path pidFile(Path runDir) {
    return runDir.resolve(PID_FILE);
  }

  /**
   * Starts it and returns once its socket exists.
   *
   * @param log its output (appended)
   * @throws IOException with its own output when it exited first or made no socket in time (it is then ended)
   */
  public static ProcessHandle start(List<String> argv, Path socket, Path runDir, Path log) throws IOException {
    return Sidecar.start("swtpm", argv, socket, pidFile(runDir), log, START_BOUND);
  }

  /** Ends the VM's swtpm if it still runs (its command line names a socket in {@code runDir}). */
  public static void stop(Path runDir) {
    Sidecar.stopAll(runDir, PID_FILE, "type=unixio,path=" + runDir + "/");
  }

  /**
   * Whether this host can give a VM a TPM: checked at create (nothing is written before) and at start.
   *
   * @throws VmException FAILED_PRECONDITION naming the package to install
   */
  public static void check(Path binary) {
    if (!Files.isExecutable(binary)) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "tpm needs swtpm, and " + binary + " is missing; install it with: apt-get install swtpm");
    }
  }
}
