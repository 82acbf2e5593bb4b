package dev.vmlet.proc;

import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@link ProcessRunner} that starts real processes. Each run uses up to three pooled threads:
 * one per output stream and one writing stdin. It returns at the latest {@link #GRACE} after the
 * command ended or was killed at its time-out: the time a killed command has to die, and the time
 * its output has to end (a descendant that outlives it with the pipes open gets its output cut).
 */
final class SystemProcessRunner implements ProcessRunner {
  static final SystemProcessRunner INSTANCE = new SystemProcessRunner();

  /** How long a killed command has to die and its output to end; a QEMU stuck in the kernel may take a while. */
  static final Duration GRACE = Duration.ofSeconds(3);

  private static final File DEV_NULL = new File("/dev/null");
  private static final AtomicInteger THREADS = new AtomicInteger();
  // Daemon threads: a reader left blocked on a pipe that an escaped descendant holds open must not keep the JVM up.
  private static final ExecutorService IO = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "process-io-" + THREADS.incrementAndGet());
    t.setDaemon(true);
    return t;
  });

  private SystemProcessRunner() {}

  @Override
  public ProcessResult run(ProcessRequest r) throws IOException {
    byte[] stdin = r.stdin();
    ProcessBuilder pb = new ProcessBuilder(r.command()).redirectErrorStream(r.mergeStderr());
    if (stdin == null) {
      pb.redirectInput(ProcessBuilder.Redirect.from(DEV_NULL));
    }
    long deadline = System.nanoTime() + r.timeout().toNanos();
    Process p = pb.start();
    OutputCapture out = OutputCapture.start(IO, p.getInputStream(), r.outputLimit(), r.lines());
    OutputCapture err = r.mergeStderr() ? null : OutputCapture.start(IO, p.getErrorStream(), r.outputLimit(), null);
    if (stdin != null) {
      feed(p.getOutputStream(), stdin);
    }
    try {
      boolean exited = p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      long graceEnd = System.nanoTime() + GRACE.toNanos();
      if (!exited) {
        killTree(p, graceEnd);
      }
      out.await(graceEnd);
      if (err != null) {
        err.await(graceEnd);
      }
      return new ProcessResult(r, exited ? p.exitValue() : -1, !exited, out.text(), err == null ? "" : err.text(),
          out.cut() || (err != null && err.cut()));
    } catch (InterruptedException e) {
      killTree(p, System.nanoTime() + GRACE.toNanos());
      Thread.currentThread().interrupt();
      InterruptedIOException x = new InterruptedIOException("interrupted while running " + r.commandLine());
      x.initCause(e);
      throw x;
    }
  }

  private static void feed(OutputStream stdin, byte[] bytes) {
    // On a thread of its own: a command that does not read would otherwise block the caller once the pipe is full.
    IO.execute(() -> {
      try (stdin) {
        stdin.write(bytes);
      } catch (IOException e) {
        // The command ended or closed its stdin before reading it all: its exit code tells the caller.
      }
    });
  }

  /**
   * Kills the command and its descendants, and waits until the deadline at most for the command to
   * die. The descendants are listed before the command dies (then they are re-parented and no longer
   * its descendants) but killed after it, so that a shell does not live to report its child "Killed".
   */
  private static void killTree(Process p, long deadline) {
    List<ProcessHandle> descendants = p.descendants().toList();
    p.destroyForcibly();
    descendants.forEach(ProcessHandle::destroyForcibly);
    try {
      p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
