package dev.vmlet.qemu;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.io.File;
import java.util.ArrayList;

/**
 * Starts QEMU in a session of its own (so a daemon that stops or dies does not take VMs down: its
 * output goes to a file, its stdin is /dev/null, and no signal of the daemon's reaches it) and finds
 * it again by its pidfile. Not {@code -daemonize}: QEMU then forks after its seccomp filter is in,
 * which rules out {@code -sandbox spawn=deny}.
 */
public final class QemuProcess {
  private QemuProcess() {}

  private static final Path SETSID = Path.of("/usr/bin/setsid");

  /**
   * Starts QEMU and waits until it has set itself up: its pidfile names it and its QMP socket is
   * there, or it exited.
   *
   * @return the QEMU process, alive
   * @throws IOException with QEMU's own error output when it refused to start
   */
  public static ProcessHandle launch(List<String> command, VmFiles files, Duration timeout) throws IOException {
    Files.deleteIfExists(files.pidFile());
    Files.deleteIfExists(files.qmpSocket());
    List<String> argv = new ArrayList<>();
    if (Files.isExecutable(SETSID)) {
      argv.add(SETSID.toString()); // execs in place: the pid is QEMU's
    }
    argv.addAll(command);
    Process p = new ProcessBuilder(argv)
        .redirectErrorStream(true)
        .redirectOutput(files.qemuLog().toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .start();
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (true) {
        if (!p.isAlive()) {
          String log = Files.exists(files.qemuLog()) ? Files.readString(files.qemuLog(), StandardCharsets.UTF_8).strip() : "";
          throw new IOException("QEMU failed to start (exit " + p.exitValue() + "): " + (log.isEmpty() ? "no output" : log));
        }
        Optional<ProcessHandle> h = find(files.pidFile()).filter(x -> x.pid() == p.pid());
        if (h.isPresent() && Files.exists(files.qmpSocket())) {
          return h.get();
        }
        if (System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new IOException("QEMU did not finish starting within " + timeout.toSeconds() + " s");
        }
        Thread.sleep(10);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while starting QEMU", e);
    }
  }

  /** The live QEMU process named by a pidfile, if there is one. */
  public static Optional<ProcessHandle> find(Path pidFile) {
    try {
      long pid = Long.parseLong(Files.readString(pidFile).strip());
      return ProcessHandle.of(pid).filter(QemuProcess::isRunning).filter(QemuProcess::looksLikeQemu);
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** A VM's QEMU found again, or why none was: what a re-adoption decides on. */
  public record Lookup(Optional<ProcessHandle> qemu, String why) {}

  /**
   * The live QEMU of the VM whose pidfile is {@code pidFile} (see {@link QemuIdentity} for what makes
   * it that VM's): the pid the pidfile names, else the pid the VM's record holds ({@code recordPid},
   * 0: none), else any process whose command line names the pidfile (a QEMU that had not written it
   * yet). A pid recycled by another program, even another VM's QEMU, does not match.
   *
   * @param launchedAtMs when the VM's QEMU was launched (0: unknown)
   */
  public static Lookup lookUp(Path pidFile, long recordPid, long launchedAtMs) {
    List<String> why = new ArrayList<>();
    long named = 0;
    try {
      named = Long.parseLong(Files.readString(pidFile).strip());
    } catch (IOException | NumberFormatException e) {
      why.add("no readable pidfile " + pidFile);
    }
    for (long pid : new long[] {named, recordPid == named ? 0 : recordPid}) {
      if (pid <= 0) {
        continue;
      }
      QemuIdentity id = QemuIdentity.read(pid);
      Optional<String> mismatch = id.mismatch(pidFile, launchedAtMs);
      if (mismatch.isEmpty()) {
        return new Lookup(ProcessHandle.of(pid), "");
      }
      why.add(mismatch.get());
    }
    Optional<QemuIdentity> found = QemuIdentity.scan(pidFile);
    if (found.isPresent()) {
      return new Lookup(ProcessHandle.of(found.get().pid()), "");
    }
    why.add("no process names " + pidFile);
    return new Lookup(Optional.empty(), String.join("; ", why));
  }

  /** Guards against a recycled pid: the process must still be a QEMU. */
  static boolean looksLikeQemu(ProcessHandle h) {
    return h.info().command().map(c -> c.contains("qemu")).orElse(true);
  }

  /**
   * Waits until the process has exited; true if it did within the bound. Polls: a re-adopted QEMU
   * is not our child, and the JDK's exit watch for non-children backs off to second-long sleeps.
   */
  public static boolean awaitExit(ProcessHandle h, Duration bound) {
    long deadline = System.nanoTime() + bound.toNanos();
    while (isRunning(h)) {
      if (System.nanoTime() >= deadline) {
        return false;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return !isRunning(h);
      }
    }
    return true;
  }

  /**
   * Alive, and not a zombie that has let go of everything. A QEMU whose daemon went away is reaped by
   * whoever adopted it (init, or a subreaper that may take its time); until then it only looks
   * alive. A QEMU whose main thread has exited looks like a zombie while its other threads (vCPUs,
   * I/O workers) are still ending, with its disks, log and pidfile still open: it counts as running
   * until the last of them is gone, so that a stop that returns means the VM's files are closed.
   */
  public static boolean isRunning(ProcessHandle h) {
    if (!h.isAlive()) {
      return false;
    }
    return ProcStatus.read(ProcStatus.PROC, h.pid()).map(ProcStatus::running).orElseGet(h::isAlive);
  }
}
