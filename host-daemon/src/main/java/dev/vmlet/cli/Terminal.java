package dev.vmlet.cli;

import java.io.File;
import java.io.IOException;
import java.util.List;
import java.util.ArrayList;

/**
 * The user's terminal for interactive execs, through stty on /dev/tty (plain Java cannot set raw
 * mode or read the window size): raw mode while the session lasts, restored on close.
 */
final class Terminal implements AutoCloseable {
  private static final File TTY = new File("/dev/tty");
  private final String saved;

  private Terminal(String saved) {
    this.saved = saved;
  }

  static boolean available() {
    return System.console() != null && TTY.canRead();
  }

  /** Rows and columns, or 24 x 80 when unknown. */
  static int[] size() {
    try {
      String[] rc = stty("size").strip().split("\\s+");
      return new int[] {Integer.parseInt(rc[0]), Integer.parseInt(rc[1])};
    } catch (IOException | RuntimeException e) {
      return new int[] {24, 80};
    }
  }

  /** Puts the terminal in raw mode (keys go to the guest as typed, Ctrl-C included). */
  static Terminal raw() throws IOException {
    String saved = stty("-g").strip();
    stty("raw", "-echo");
    return new Terminal(saved);
  }

  private static String stty(String... args) throws IOException {
    List<String> argv = new ArrayList<>(List.of("stty"));
    argv.addAll(List.of(args));
    Process p = new ProcessBuilder(argv).redirectInput(TTY).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    String out = new String(p.getInputStream().readAllBytes());
    try {
      if (p.waitFor() != 0) {
        throw new IOException("stty " + String.join(" ", args) + " failed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    return out;
  }

  @Override
  public void close() {
    try {
      stty(saved);
    } catch (IOException e) {
      System.err.println("vmlet: cannot restore the terminal (" + e.getMessage() + "); run: stty sane");
    }
  }
}
