package dev.vmlet.proc;

import java.io.IOException;

/**
 * Starts short-lived commands, every one the same way: a time-out after which the command and its
 * descendants are killed, stdin from given bytes or /dev/null, stdout and stderr read while it runs
 * and kept up to a limit. So a command that prints much cannot block on a full pipe, and one that
 * hangs cannot hold its caller. {@link #system()} runs real programs; tests script a
 * {@code FakeProcessRunner} instead.
 *
 * <p>Long-lived or interactive processes (QEMU itself, terminals, the host agent) do not start here.
 */
public interface ProcessRunner {
  /**
   * Runs the command to its end or its time-out. A non-zero exit or a time-out is a result, not an
   * exception: {@link ProcessResult#requireSuccess()} makes it one.
   *
   * @throws IOException when the program cannot be started
   * @throws java.io.InterruptedIOException when the calling thread is interrupted; the command is
   *     killed and the thread's interrupt flag stays set
   */
  ProcessResult run(ProcessRequest request) throws IOException;

  /** The runner that starts real processes on this host. */
  static ProcessRunner system() {
    return SystemProcessRunner.INSTANCE;
  }
}
