package dev.vmlet.qemu;

import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessResult;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * How vmlet confines every QEMU. Its seccomp sandbox, where the QEMU build has it: obsolete system
 * calls, privilege changes (set*uid and friends), spawning processes and resource control
 * (scheduler and priority changes) are denied. Under a root daemon QEMU also runs as the
 * unprivileged {@link #USER} from its start ({@link QemuUser}): not {@code -runas}, with which QEMU
 * 7.2 drops privileges after its filter is in and is killed by {@code elevateprivileges=deny}
 * (measured: SIGSYS).
 */
public final class QemuSandbox {
  private static final Logger LOG = Logger.getLogger(QemuSandbox.class.getName());
  public static final String OPTIONS = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";
  private static final Map<String, String> KNOWN = new ConcurrentHashMap<>();
  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration USER_TIMEOUT = Duration.ofSeconds(30);

  /** The user QEMU runs as when the daemon runs as root. */
  public static final String USER = "vmlet-qemu";

  /**
   * How a QEMU is confined: its seccomp options ("" for none) and the user it runs as (null to
   * stay the daemon's user).
   */
  public record Confinement(String sandbox, QemuUser user) {
    public static final Confinement NONE = new Confinement("", null);
  }

  private static volatile Optional<QemuUser> user;

  private QemuSandbox() {}

  /** The sandbox for this QEMU, and when the daemon is root, {@link #USER} (made once if missing). */
  public static Confinement confinement(String qemuBinary) {
    return new Confinement(options(qemuBinary), user().orElse(null));
  }

  /** {@link #USER} when the daemon runs as root, made once if missing; empty otherwise. */
  public static Optional<QemuUser> user() {
    Optional<QemuUser> u = user;
    if (u == null) {
      u = "root".equals(System.getProperty("user.name")) ? Optional.of(ensureUser(ProcessRunner.system())) : Optional.empty();
      user = u;
    }
    return u;
  }

  /** {@link #USER}, made if missing; a root daemon cannot start QEMU without it. */
  static QemuUser ensureUser(ProcessRunner runner) {
    if (run(runner, "id", "-u", USER) != 0 && run(runner, "useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
        "--shell", "/usr/sbin/nologin", USER) != 0) {
      throw new IllegalStateException("cannot create the user " + USER + " that QEMU runs as; create it with: useradd --system "
          + "--no-create-home --shell /usr/sbin/nologin " + USER);
    }
    if (!Files.isExecutable(Path.of(QemuUser.SETPRIV))) {
      throw new IllegalStateException(QemuUser.SETPRIV + " is missing; it starts QEMU as " + USER + "; install util-linux");
    }
    return lookup(runner);
  }

  static QemuUser lookup(ProcessRunner runner) {
    try {
      String[] f = passwd(runner, USER);
      List<Integer> groups = new ArrayList<>();
      Path kvm = Path.of("/dev/kvm");
      if (Files.exists(kvm)) {
        int g = (Integer) Files.getAttribute(kvm, "unix:gid");
        if (g != 0) {
          groups.add(g); // QEMU opens /dev/kvm through its group; never root's group
        }
      }
      return new QemuUser(USER, Integer.parseInt(f[2]), Integer.parseInt(f[3]), groups);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("cannot look up the user " + USER + " that QEMU runs as: " + e.getMessage(), e);
    }
  }

  /** The passwd entry of a user, as getent prints it (name:x:uid:gid:...). */
  private static String[] passwd(ProcessRunner runner, String name) throws IOException {
    String line = runner.run(ProcessRequest.of(USER_TIMEOUT, "getent", "passwd", name)).stdout().strip();
    String[] f = line.split(":");
    if (f.length < 4) {
      throw new IOException("getent passwd " + name + " printed '" + line + "'");
    }
    return f;
  }

  /** The command's exit code; -1 when it cannot run or does not finish in time. */
  private static int run(ProcessRunner runner, String... argv) {
    try {
      return runner.run(ProcessRequest.of(USER_TIMEOUT, argv)).exitCode();
    } catch (IOException e) {
      return -1;
    }
  }

  /** The -sandbox value for this QEMU, or "" when it was built without seccomp. Asked once per binary. */
  public static String options(String qemuBinary) {
    return KNOWN.computeIfAbsent(qemuBinary, q -> probe(q, ProcessRunner.system()));
  }

  static String probe(String qemuBinary, ProcessRunner runner) {
    ProcessResult r;
    try {
      r = runner.run(ProcessRequest.of(PROBE_TIMEOUT, qemuBinary, "-sandbox", OPTIONS, "-version").withStderrMerged());
    } catch (IOException e) {
      return ""; // no QEMU (the launch reports that), or interrupted
    }
    if (r.succeeded()) {
      return OPTIONS;
    }
    LOG.warning(qemuBinary + " has no -sandbox (built without seccomp): VMs run without a system call filter");
    return "";
  }
}
