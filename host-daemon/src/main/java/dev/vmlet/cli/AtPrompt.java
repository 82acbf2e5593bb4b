package dev.vmlet.cli;

import dev.vmlet.common.at.AtParser;
import dev.vmlet.common.at.AtSyntaxException;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.RunCommandLineResponse;
import dev.vmlet.proto.v1.Vm;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.jline.reader.Candidate;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * The interactive @target prompt ({@code vmlet shell} without a VM): each line runs through the
 * daemon's RunCommandLine. History is kept in {@code $XDG_STATE_HOME/vmlet/history}; Tab completes
 * targets from the daemon's VMs and their labels; Ctrl-C cancels the running line (every stage),
 * not the prompt; Ctrl-D or {@code exit} leaves.
 */
final class AtPrompt {
  static final String PROMPT = "vmlet> ";
  private final DaemonClient client;
  private final PrintStream out;
  private volatile Context.CancellableContext running;

  private AtPrompt(DaemonClient client, PrintStream out) {
    this.client = client;
    this.out = out;
  }

  /** Where lines come from: an editing terminal, or plain input. */
  private interface Lines {
    /** The next line; null at the end of input. */
    String read(String prompt) throws IOException;
  }

  /**
   * On the process's terminal with line editing, history and completion; when stdin is not a
   * terminal (a pipe, a file), lines are read plainly, as a shell does.
   */
  static int run(DaemonClient client) throws IOException {
    if (System.console() == null) {
      return run(client, System.in, System.out);
    }
    try (Terminal t = TerminalBuilder.builder().system(true).build()) {
      AtPrompt p = new AtPrompt(client, new PrintStream(t.output(), true));
      Path history = historyFile();
      Files.createDirectories(history.getParent());
      LineReader reader = LineReaderBuilder.builder().terminal(t).appName("vmlet")
          .completer((r, line, candidates) -> p.complete(line.word(), candidates))
          .variable(LineReader.HISTORY_FILE, history)
          .variable(LineReader.HISTORY_SIZE, 10_000)
          .option(LineReader.Option.DISABLE_EVENT_EXPANSION, true) // '!' is an ordinary character in lines
          .build();
      t.handle(Terminal.Signal.INT, s -> p.cancelRunning());
      try {
        return p.loop(prompt -> {
          try {
            return reader.readLine(prompt);
          } catch (UserInterruptException e) {
            return ""; // Ctrl-C at the prompt: a fresh line
          } catch (EndOfFileException e) {
            return null;
          }
        });
      } finally {
        reader.getHistory().save();
      }
    }
  }

  /** Plain lines from {@code in}, prompts and output on {@code out}: for pipes and tests. */
  static int run(DaemonClient client, InputStream in, OutputStream out) throws IOException {
    PrintStream ps = out instanceof PrintStream p ? p : new PrintStream(out, true);
    BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    return new AtPrompt(client, ps).loop(prompt -> {
      ps.print(prompt);
      ps.flush();
      return r.readLine();
    });
  }

  static Path historyFile() {
    String state = System.getenv("XDG_STATE_HOME");
    Path dir = state != null && !state.isBlank() ? Path.of(state) : Path.of(System.getProperty("user.home"), ".local", "state");
    return dir.resolve("vmlet").resolve("history");
  }

  private void cancelRunning() {
    Context.CancellableContext c = running;
    if (c != null) {
      c.cancel(null);
    }
  }

  private int loop(Lines lines) throws IOException {
    int last = 0;
    while (true) {
      String line = lines.read(last == 0 ? PROMPT : "vmlet [" + last + "]> ");
      if (line == null) {
        break;
      }
      String trimmed = line.strip();
      if (trimmed.isEmpty()) {
        continue;
      }
      if (trimmed.equals("exit") || trimmed.equals("quit")) {
        break;
      }
      if (trimmed.equals("help")) {
        out.println("Each line is @target syntax: @VM COMMAND, @role=web COMMAND, @a CMD | @b CMD > @c FILE, @VM --pause ...");
        out.println("Tab completes targets; Ctrl-C cancels a running line; Ctrl-D or 'exit' leaves. Grammar: docs/at-syntax.md");
        continue;
      }
      last = runLine(line);
    }
    return last;
  }

  /** Runs one line; returns its exit code (130 when cancelled, 2 when refused). */
  int runLine(String line) {
    try {
      AtParser.parse(line);
    } catch (AtSyntaxException e) {
      out.println(caret(line, e.column()) + "vmlet: " + e.getMessage());
      return 2;
    }
    Context.CancellableContext ctx = Context.current().withCancellation();
    running = ctx;
    try {
      return ctx.call(() -> stream(line));
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() == Status.Code.CANCELLED) {
        out.println("^C (the line was cancelled: every stage stopped)");
        return 130;
      }
      out.println("vmlet: " + e.getStatus().getDescription());
      return e.getStatus().getCode() == Status.Code.INVALID_ARGUMENT ? 2 : 1;
    } catch (Exception e) {
      out.println("vmlet: " + e.getMessage());
      return 1;
    } finally {
      running = null;
      ctx.close();
    }
  }

  private int stream(String line) throws IOException {
    Iterator<RunCommandLineResponse> it = client.vms().withDeadlineAfter(3700, TimeUnit.SECONDS)
        .runCommandLine(RunCommandLineRequest.newBuilder().setLine(line).build());
    while (it.hasNext()) {
      RunCommandLineResponse r = it.next();
      switch (r.getPayloadCase()) {
        case STDOUT -> out.write(r.getStdout().toByteArray());
        case STDERR -> out.write(r.getStderr().getData().toByteArray());
        case RESULT -> {
          out.flush();
          return r.getResult().getExitCode();
        }
        default -> { }
      }
      out.flush();
    }
    return 1;
  }

  /** Two lines: the input again and a caret under the column, to show where a line went wrong. */
  static String caret(String line, int column) {
    return "  " + line + "\n  " + " ".repeat(Math.max(0, column - 1)) + "^\n";
  }

  private void complete(String word, List<Candidate> candidates) {
    if (!word.startsWith("@")) {
      return;
    }
    List<Vm> vms;
    try {
      vms = client.vms().withDeadlineAfter(3, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance()).getVmsList();
    } catch (StatusRuntimeException e) {
      return; // no completion rather than an error in the middle of typing
    }
    for (String t : targets(vms)) {
      candidates.add(new Candidate(t, t, null, null, null, null, true));
    }
  }

  /** What may follow '@': every VM, every label as a selector, and the host. */
  static List<String> targets(List<Vm> vms) {
    TreeSet<String> names = new TreeSet<>();
    TreeSet<String> selectors = new TreeSet<>();
    for (Vm vm : vms) {
      names.add("@" + vm.getSpec().getName());
      vm.getSpec().getLabelsMap().forEach((k, v) -> selectors.add("@" + k + "=" + v));
    }
    List<String> all = new ArrayList<>(names);
    all.addAll(selectors);
    all.add("@host");
    return all;
  }
}
