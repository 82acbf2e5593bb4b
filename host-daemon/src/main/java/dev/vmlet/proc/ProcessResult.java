package dev.vmlet.proc;

/**
 * How a command ended: its exit code, or that it was killed at its time-out; what it printed, and
 * whether that was cut (at the request's output limit, or because a descendant still held the
 * pipes open when the command had ended).
 *
 * @param exitCode the command's exit code; -1 when it timed out
 * @param stdout what it printed on stdout (with stderr when the request merged them), as UTF-8
 * @param stderr what it printed on stderr; empty when merged
 */
public record ProcessResult(ProcessRequest request, int exitCode, boolean timedOut, String stdout, String stderr,
    boolean cut) {
  public ProcessResult {
    if (request == null || stdout == null || stderr == null) {
      throw new IllegalArgumentException("a process result needs its request, stdout and stderr");
    }
    if (timedOut && exitCode != -1) {
      throw new IllegalArgumentException("a command that timed out has no exit code, not " + exitCode);
    }
  }

  /** The command ended by itself with exit code 0. */
  public boolean succeeded() {
    return !timedOut && exitCode == 0;
  }

  /** What it printed, stdout then stderr, without surrounding white space: for messages. */
  public String output() {
    String out = stdout.strip();
    String err = stderr.strip();
    return out.isEmpty() ? err : err.isEmpty() ? out : out + "\n" + err;
  }

  /**
   * This result when the command succeeded.
   *
   * @throws ProcessFailedException naming the command, how it ended and the end of its output
   */
  public ProcessResult requireSuccess() throws ProcessFailedException {
    if (!succeeded()) {
      throw new ProcessFailedException(this);
    }
    return this;
  }
}
