package dev.vmlet.it;

import dev.vmlet.common.testing.Poll;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Assumptions;

/**
 * A real terminal for a test: a tmux server of the test's own (its socket in the test's directory),
 * one window running a command; keys sent with send-keys, the screen read with capture-pane. The
 * pane stays after the command exits, so its last screen can be read; the command's exit status is
 * written to a file by the shell that ran it (tmux's own pane_dead_status is sometimes still empty
 * well after the pane died). Closing kills this server and removes its socket.
 */
final class Tmux implements AutoCloseable {
  private final Path socket;
  private final Path status;

  private Tmux(Path socket) {
    this.socket = socket;
    this.status = Path.of(socket + ".status");
  }

  /** Starts {@code command} (a shell line) in a {@code cols} x {@code rows} window, its server's socket in {@code dir}. */
  static Tmux running(String command, int cols, int rows, Path dir) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/tmux")), "no tmux: apt-get install tmux (scripts/lib/deps.sh)");
    Tmux t = new Tmux(Files.createTempFile(Files.createDirectories(dir), "tmux", ".sock"));
    Files.delete(t.socket); // tmux makes the socket itself
    t.tmux("new-session", "-d", "-s", "t", "-x", Integer.toString(cols), "-y", Integer.toString(rows),
        command + "; echo $? > " + t.status + ".tmp && mv " + t.status + ".tmp " + t.status);
    t.tmux("set-option", "-t", "t", "remain-on-exit", "on");
    return t;
  }

  String screen() throws Exception {
    return tmux("capture-pane", "-p", "-t", "t");
  }

  void keys(String... keys) throws Exception {
    List<String> argv = new ArrayList<>(List.of("send-keys", "-t", "t"));
    argv.addAll(List.of(keys));
    tmux(argv.toArray(String[]::new));
  }

  /** Polls the screen until {@code ready} holds, for at most {@code bound}; returns that screen. */
  String await(Predicate<String> ready, Duration bound) throws Exception {
    String[] last = {""};
    try {
      return Poll.forValue("the terminal to show what was expected", bound, () -> {
        last[0] = screen();
        return ready.test(last[0]) ? last[0] : null;
      });
    } catch (AssertionError e) {
      throw new AssertionError("the terminal did not show what was expected within " + bound + "; it shows:\n" + last[0], e);
    }
  }

  /** The command's exit status once it exited, within {@code bound}; null when it still runs then. */
  Integer awaitExit(Duration bound) throws Exception {
    try {
      return Poll.forValue("the command to exit", bound, () -> Files.exists(status) ? Integer.parseInt(Files.readString(status).strip()) : null);
    } catch (AssertionError stillRuns) {
      return null;
    }
  }

  private String tmux(String... args) throws IOException, InterruptedException {
    List<String> argv = new ArrayList<>(List.of("tmux", "-S", socket.toString()));
    argv.addAll(List.of(args));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      p.destroyForcibly();
      throw new IOException("tmux " + String.join(" ", args) + " failed: " + out);
    }
    return out;
  }

  @Override
  public void close() throws Exception {
    try {
      tmux("kill-server");
    } finally {
      Files.deleteIfExists(socket);
      Files.deleteIfExists(status);
    }
  }
}
