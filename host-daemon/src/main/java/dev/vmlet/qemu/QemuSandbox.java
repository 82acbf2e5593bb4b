package dev.vmlet.qemu;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * QEMU's seccomp sandbox for every VM, where the QEMU build has it. With {@code -daemonize} (which
 * vmlet needs for VMs that outlive the daemon) QEMU forks and calls setsid after the filter is in,
 * so {@code spawn=deny} and {@code elevateprivileges=deny} would kill it (measured with QEMU 7.2:
 * SIGSYS and exit 1); what is denied is obsolete system calls and resource control
 * (scheduler and priority changes).
 */
public final class QemuSandbox {
  private static final Logger LOG = Logger.getLogger(QemuSandbox.class.getName());
  public static final String OPTIONS = "on,obsolete=deny,resourcecontrol=deny";
  private static final Map<String, String> KNOWN = new ConcurrentHashMap<>();

  private QemuSandbox() {}

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
