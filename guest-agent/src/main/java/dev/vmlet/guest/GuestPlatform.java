package dev.vmlet.guest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What differs between the guests the agent runs in: the shell, the default port, how a program
 * runs as another user, how the guest powers off. Pure, so the Windows side is unit-tested on Linux.
 */
final class GuestPlatform {
  private final boolean windows;

  GuestPlatform(String osName) {
    this.windows = osName.toLowerCase(Locale.ROOT).startsWith("windows");
  }

  static GuestPlatform current() {
    return new GuestPlatform(System.getProperty("os.name", ""));
  }

  boolean isWindows() {
    return windows;
  }

  /** The virtio-serial port of the agent. */
  String defaultPort() {
    return windows ? "\\\\.\\Global\\dev.vmlet.agent.0" : "/dev/virtio-ports/dev.vmlet.agent.0";
  }

  /** The legacy serial port, for guests without virtio drivers. */
  String defaultSerialPort() {
    return windows ? "COM2" : "/dev/ttyS1";
  }

  /** A command line run by the guest's shell. */
  List<String> shellArgv(String line) {
    return windows ? List.of("cmd", "/c", line) : List.of("/bin/sh", "-c", line);
  }

  /**
   * {@code argv} run as {@code user}: util-linux runuser where the guest has it, else su (busybox
   * has it), which runs {@code exec "$0" "$@"} so that argv is not re-parsed by a shell.
   *
   * @throws UnsupportedOperationException on Windows
   */
  List<String> asUser(String user, List<String> argv) {
    if (windows) {
      throw new UnsupportedOperationException("running as another user is not supported in Windows guests");
    }
    List<String> out = new ArrayList<>();
    String runuser = find("runuser");
    if (runuser != null) {
      out.addAll(List.of(runuser, "-u", user, "--"));
    } else {
      out.addAll(List.of("su", "-s", "/bin/sh", user, "-c", "exec \"$0\" \"$@\""));
    }
    out.addAll(argv);
    return out;
  }

  /** The command that powers the guest off or reboots it. */
  List<String> powerArgv(boolean reboot) {
    if (windows) {
      return List.of("shutdown", reboot ? "/r" : "/s", "/t", "0");
    }
    return List.of(reboot ? "reboot" : "poweroff");
  }

  /**
   * How a program starts in a session and process group of its own (so a cancel can kill the
   * whole group) where {@link PosixSpawn} cannot start it, and for a terminal: {@code prefix} goes
   * before the program's argv. The agent's own static busybox
   * comes first when its bundle has one ({@code bin/busybox} beside the agent's jar): a Debian
   * guest's setsid is dynamically linked, and under TCG its exec cost about as much again as the
   * program's own (docs/benchmarks.md). Busybox runs its own applet for a bare name ({@code ls}
   * would be busybox's ls, not the guest's), so then the program must be named by its absolute
   * path ({@code absoluteProgram}).
   */
  record Session(List<String> prefix, boolean absoluteProgram) {}

  /** See {@link Session}; null where there is no setsid. */
  Session session() {
    if (windows) {
      return null;
    }
    Path busybox = AGENT_HOME == null ? null : AGENT_HOME.resolve("bin/busybox");
    if (busybox != null && Files.isExecutable(busybox)) {
      return new Session(List.of(busybox.toString(), "setsid"), true);
    }
    String setsid = find("setsid");
    return setsid == null ? null : new Session(List.of(setsid), false);
  }

  private static final Path AGENT_HOME = agentHome();

  /** The directory of the agent's jar (its bundle), or null when it runs from classes (tests). */
  private static Path agentHome() {
    try {
      Path jar = Path.of(GuestPlatform.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return jar.toString().endsWith(".jar") ? jar.getParent() : null;
    } catch (Exception e) {
      return null;
    }
  }

  private static String find(String program) {
    for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
      Path p = Path.of(dir, program);
      if (Files.isExecutable(p)) {
        return p.toString();
      }
    }
    return null;
  }
}
