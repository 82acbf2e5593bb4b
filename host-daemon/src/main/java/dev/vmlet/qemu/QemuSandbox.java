package dev.vmlet.qemu;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * QEMU's seccomp sandbox for every VM, where the QEMU build has it: obsolete system calls, spawning
 * processes and resource control (scheduler and priority changes) are denied. Not {@code
 * elevateprivileges=deny}: QEMU 7.2 puts the filter in before it drops to the {@code -runas} user,
 * so the two together kill it (measured: SIGSYS); vmlet keeps the drop to an unprivileged user.
 */
public final class QemuSandbox {
  private static final Logger LOG = Logger.getLogger(QemuSandbox.class.getName());
  public static final String OPTIONS = "on,obsolete=deny,spawn=deny,resourcecontrol=deny";
  private static final Map<String, String> KNOWN = new ConcurrentHashMap<>();

  /** The user QEMU drops to when the daemon runs as root. */
  public static final String USER = "vmlet-qemu";

  /**
   * How a QEMU is confined: its seccomp options ("" for none) and the user it drops to after
   * opening its files ("" to stay the daemon's user).
   */
  public record Confinement(String sandbox, String runAs) {
    public static final Confinement NONE = new Confinement("", "");
  }

  private static volatile String runAs;

  private QemuSandbox() {}

  /** The sandbox for this QEMU, and when the daemon is root, {@link #USER} (made once if missing). */
  public static Confinement confinement(String qemuBinary) {
    return new Confinement(options(qemuBinary), runAs());
  }

  private static String runAs() {
    String u = runAs;
    if (u == null) {
      u = "";
      if ("root".equals(System.getProperty("user.name"))) {
        if (run("id", "-u", USER) != 0 && run("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
            "/usr/sbin/nologin", USER) != 0) {
          LOG.warning("cannot create user " + USER + " for QEMU; VMs run as root");
        } else {
          u = USER;
        }
      }
      runAs = u;
    }
    return u;
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
