package dev.vmlet.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
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
      u = Optional.empty();
      if ("root".equals(System.getProperty("user.name"))) {
        if (run("id", "-u", USER) != 0 && run("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
            "/usr/sbin/nologin", USER) != 0) {
          throw new IllegalStateException("cannot create the user " + USER + " that QEMU runs as; create it with: useradd --system "
              + "--no-create-home --shell /usr/sbin/nologin " + USER);
        }
        if (!Files.isExecutable(Path.of(QemuUser.SETPRIV))) {
          throw new IllegalStateException(QemuUser.SETPRIV + " is missing; it starts QEMU as " + USER + "; install util-linux");
        }
        u = Optional.of(lookup());
      }
      user = u;
    }
    return u;
  }

  private static QemuUser lookup() {
    try {
      String[] f = passwd(USER);
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
  private static String[] passwd(String name) throws IOException {
    Process p = new ProcessBuilder("getent", "passwd", name).redirectErrorStream(true).start();
    String line = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    String[] f = line.split(":");
    if (f.length < 4) {
      throw new IOException("getent passwd " + name + " printed '" + line + "'");
    }
    return f;
  }

  private static int run(String... argv) {
    try {
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  /** The -sandbox value for this QEMU, or "" when it was built without seccomp. Asked once per binary. */
  public static String options(String qemuBinary) {
    return KNOWN.computeIfAbsent(qemuBinary, QemuSandbox::probe);
  }

  private static String probe(String qemuBinary) {
    try {
      Process p = new ProcessBuilder(qemuBinary, "-sandbox", OPTIONS, "-version").redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
        return OPTIONS;
      }
      p.destroyForcibly();
    } catch (IOException e) {
      return ""; // no QEMU: the launch reports that
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    }
    LOG.warning(qemuBinary + " has no -sandbox (built without seccomp): VMs run without a system call filter");
    return "";
  }
}
