package dev.vmlet.proc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A {@link ProcessRunner} for tests: answers are scripted per command prefix, and every call is
 * recorded. The longest scripted prefix that a command starts with answers it (of equal ones, the
 * latest). A command nothing answers fails as a program that is not installed does. Replies pass
 * through the request's output limit, stderr merging and line listener, as the real runner's do.
 */
public final class FakeProcessRunner implements ProcessRunner {
  /** What a scripted command does; may look at the request (its files, its stdin) or throw as start() would. */
  @FunctionalInterface
  public interface Answer {
    Reply answer(ProcessRequest request) throws IOException;
  }

  /** What a scripted command prints and how it ends. */
  public record Reply(int exitCode, boolean timedOut, String stdout, String stderr) {
    public Reply {
      if (stdout == null || stderr == null) {
        throw new IllegalArgumentException("a reply prints strings, not null");
      }
    }

    public static Reply exit(int code, String stdout, String stderr) {
      return new Reply(code, false, stdout, stderr);
    }

    public static Reply timeout() {
      return new Reply(-1, true, "", "");
    }
  }

  private record Script(List<String> prefix, Answer answer) {}

  /** Scripts the commands that start with one prefix. */
  public final class When {
    private final List<String> prefix;

    private When(List<String> prefix) {
      this.prefix = prefix;
    }

    /** They print {@code stdout} and exit 0. */
    public FakeProcessRunner thenPrint(String stdout) {
      return thenAnswer(r -> Reply.exit(0, stdout, ""));
    }

    /** They print {@code stderr} and exit with {@code code}. */
    public FakeProcessRunner thenFail(int code, String stderr) {
      return thenAnswer(r -> Reply.exit(code, "", stderr));
    }

    /** They run past their time-out and are killed. */
    public FakeProcessRunner thenTimeOut() {
      return thenAnswer(r -> Reply.timeout());
    }

    public FakeProcessRunner thenAnswer(Answer answer) {
      synchronized (FakeProcessRunner.this) {
        scripts.add(new Script(prefix, answer));
      }
      return FakeProcessRunner.this;
    }
  }

  private final List<Script> scripts = new ArrayList<>();
  private final List<ProcessRequest> calls = new ArrayList<>();

  /** Starts scripting the commands whose first words are {@code prefix}. */
  public When when(String... prefix) {
    return new When(List.of(prefix));
  }

  @Override
  public ProcessResult run(ProcessRequest request) throws IOException {
    Answer answer;
    synchronized (this) {
      calls.add(request);
      answer = scripts.stream().filter(s -> startsWith(request.command(), s.prefix()))
          .reduce((a, b) -> b.prefix().size() >= a.prefix().size() ? b : a).map(Script::answer).orElse(null);
    }
    if (answer == null) {
      throw new IOException("Cannot run program \"" + request.command().get(0) + "\": error=2, No such file or directory"
          + " (FakeProcessRunner: nothing scripted for " + request.commandLine() + ")");
    }
    return result(request, answer.answer(request));
  }

  /** Every request so far, oldest first. */
  public synchronized List<ProcessRequest> calls() {
    return List.copyOf(calls);
  }

  /** Every command so far as one line, oldest first. */
  public synchronized List<String> commandLines() {
    return calls.stream().map(r -> String.join(" ", r.command())).toList();
  }

  private static boolean startsWith(List<String> command, List<String> prefix) {
    return command.size() >= prefix.size() && command.subList(0, prefix.size()).equals(prefix);
  }

  private static ProcessResult result(ProcessRequest r, Reply reply) {
    String out = r.mergeStderr() ? reply.stdout() + reply.stderr() : reply.stdout();
    String err = r.mergeStderr() ? "" : reply.stderr();
    if (r.lines() != null && !out.isEmpty()) {
      Arrays.stream(out.split("\r?\n")).forEach(r.lines());
    }
    byte[] o = out.getBytes(StandardCharsets.UTF_8);
    byte[] e = err.getBytes(StandardCharsets.UTF_8);
    int limit = r.outputLimit();
    return new ProcessResult(r, reply.exitCode(), reply.timedOut(), keep(o, limit), keep(e, limit), o.length > limit || e.length > limit);
  }

  private static String keep(byte[] b, int limit) {
    return new String(b, 0, Math.min(limit, b.length), StandardCharsets.UTF_8);
  }
}
