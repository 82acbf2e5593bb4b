package dev.vmlet.proc;

import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * One short-lived command: its argv, how long it may take, what it reads and how much of what it
 * prints is kept. Immutable; the {@code with...} methods return changed copies.
 *
 * @param command the program and its arguments; not empty
 * @param timeout how long it may run before it and its descendants are killed; positive
 * @param stdin the bytes it reads, or null for /dev/null
 * @param outputLimit how many bytes of stdout and of stderr are kept, each; the rest is read and
 *     dropped, and the result says it was cut
 * @param mergeStderr stderr goes into stdout in the order written (as {@code 2>&1})
 * @param lines given each line of stdout as it arrives, all of them, on a runner thread; or null
 */
public record ProcessRequest(List<String> command, Duration timeout, byte[] stdin, int outputLimit,
    boolean mergeStderr, Consumer<String> lines) {
  /** The output limit unless a request sets its own: far above what the callers' commands print. */
  public static final int DEFAULT_OUTPUT_LIMIT = 1 << 20;
  private static final int COMMAND_LINE_CHARS = 500;

  public ProcessRequest {
    command = List.copyOf(command);
    if (command.isEmpty()) {
      throw new IllegalArgumentException("a command needs at least a program");
    }
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("the time-out of " + command.get(0) + " must be positive, not " + timeout);
    }
    if (outputLimit < 0) {
      throw new IllegalArgumentException("the output limit of " + command.get(0) + " must not be negative: " + outputLimit);
    }
    stdin = stdin == null ? null : stdin.clone();
  }

  /** A command reading /dev/null, stdout and stderr kept apart up to {@link #DEFAULT_OUTPUT_LIMIT}. */
  public static ProcessRequest of(Duration timeout, List<String> command) {
    return new ProcessRequest(command, timeout, null, DEFAULT_OUTPUT_LIMIT, false, null);
  }

  /** As {@link #of(Duration, List)}. */
  public static ProcessRequest of(Duration timeout, String... command) {
    return of(timeout, List.of(command));
  }

  public ProcessRequest withStdin(byte[] bytes) {
    return new ProcessRequest(command, timeout, bytes, outputLimit, mergeStderr, lines);
  }

  public ProcessRequest withOutputLimit(int bytes) {
    return new ProcessRequest(command, timeout, stdin, bytes, mergeStderr, lines);
  }

  public ProcessRequest withStderrMerged() {
    return new ProcessRequest(command, timeout, stdin, outputLimit, true, lines);
  }

  public ProcessRequest withLines(Consumer<String> each) {
    return new ProcessRequest(command, timeout, stdin, outputLimit, mergeStderr, each);
  }

  /** The command as one line for messages, shortened when very long. */
  public String commandLine() {
    String s = String.join(" ", command);
    return s.length() <= COMMAND_LINE_CHARS ? s : s.substring(0, COMMAND_LINE_CHARS) + "...";
  }

  @Override
  public byte[] stdin() {
    return stdin == null ? null : stdin.clone();
  }
}
