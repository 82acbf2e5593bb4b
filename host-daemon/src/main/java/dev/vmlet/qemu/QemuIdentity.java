package dev.vmlet.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * What {@code /proc} says of a process that may be a VM's QEMU, and whether it is that VM's. A
 * re-adoption asks this of the pid its pidfile names, of the pid its record holds, and, failing
 * both, of every process: a QEMU is that VM's when its command line names the VM's pidfile
 * ({@code -pidfile}), which no other program's does. Only a process whose command line cannot be
 * read is judged by its name and its start time, within {@link #START_SLACK} of the launch: wall
 * clock steps and the clock-tick rounding of /proc start times then cannot make a live QEMU of the
 * VM look like a stranger.
 *
 * @param running alive and not a zombie that let go of everything ({@link QemuProcess#isRunning})
 * @param command the executable, empty when unknown
 * @param startMs when it started (epoch ms), 0 when unknown
 * @param argv its command line, empty when unreadable
 */
public record QemuIdentity(long pid, boolean running, String command, long startMs, List<String> argv) {
  static final java.time.Duration START_SLACK = java.time.Duration.ofSeconds(30);

  public QemuIdentity {
    argv = List.copyOf(argv);
  }

  /** What /proc says of {@code pid} now; a process that is gone reads as not running. */
  public static QemuIdentity read(long pid) {
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty() || !QemuProcess.isRunning(h.get())) {
      return new QemuIdentity(pid, false, "", 0, List.of());
    }
    ProcessHandle.Info info = h.get().info();
    return new QemuIdentity(pid, true, info.command().orElse(""),
        info.startInstant().map(t -> t.toEpochMilli()).orElse(0L), commandLine(pid));
  }

  private static List<String> commandLine(long pid) {
    try {
      String raw = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8);
      return raw.isEmpty() ? List.of() : Arrays.asList(raw.split("\0"));
    } catch (IOException e) {
      return List.of();
    }
  }

  /**
   * Why this process is not the QEMU of the VM whose pidfile is {@code pidFile} and that was
   * launched at {@code launchedAtMs} (0: unknown); empty when it is that QEMU.
   */
  public Optional<String> mismatch(Path pidFile, long launchedAtMs) {
    if (!running) {
      return Optional.of("pid " + pid + " does not run");
    }
    int i = argv.indexOf("-pidfile");
    if (i >= 0 && i + 1 < argv.size()) {
      return argv.get(i + 1).equals(pidFile.toString()) ? Optional.empty()
          : Optional.of("pid " + pid + " is the QEMU of another VM (its pidfile is " + argv.get(i + 1) + ")");
    }
    if (!command.isEmpty() && !command.contains("qemu")) {
      return Optional.of("pid " + pid + " is " + command + ", not QEMU");
    }
    if (launchedAtMs > 0 && startMs > 0 && Math.abs(startMs - launchedAtMs) > START_SLACK.toMillis()) {
      return Optional.of("pid " + pid + " started " + (startMs - launchedAtMs) / 1000 + " s from the VM's launch: another program");
    }
    return Optional.empty();
  }

  /**
   * The running process whose command line names {@code pidFile}: a QEMU of the VM that the pidfile
   * does not name (yet), as one whose daemon died before QEMU wrote it.
   */
  static Optional<QemuIdentity> scan(Path pidFile) {
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path p : procs) {
        long pid = Long.parseLong(p.getFileName().toString());
        List<String> argv = commandLine(pid);
        int i = argv.indexOf("-pidfile");
        if (i >= 0 && i + 1 < argv.size() && argv.get(i + 1).equals(pidFile.toString())) {
          QemuIdentity found = read(pid);
          if (found.running()) {
            return Optional.of(found);
          }
        }
      }
    } catch (IOException e) {
      return Optional.empty();
    }
    return Optional.empty();
  }
}
