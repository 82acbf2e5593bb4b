package dev.vmlet.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What {@code /proc/PID/status} says of a process: its state letter and how many threads it still
 * has. A process whose main thread has exited shows as a zombie ({@code Z}) while its other threads
 * are still ending, and those threads still hold its open files; only a zombie with one thread left
 * has let go of everything.
 */
record ProcStatus(char state, int threads) {
  static final Path PROC = Path.of("/proc");

  /** The status of {@code pid} under {@code procRoot}; empty when there is no such process. */
  static Optional<ProcStatus> read(Path procRoot, long pid) {
    String text;
    try {
      text = Files.readString(procRoot.resolve(Long.toString(pid)).resolve("status"));
    } catch (IOException e) {
      return Optional.empty();
    }
    char state = '?';
    int threads = 1;
    for (String line : text.split("\n")) {
      if (line.startsWith("State:")) {
        String v = line.substring("State:".length()).strip();
        state = v.isEmpty() ? '?' : v.charAt(0);
      } else if (line.startsWith("Threads:")) {
        try {
          threads = Integer.parseInt(line.substring("Threads:".length()).strip());
        } catch (NumberFormatException e) {
          threads = 1;
        }
      }
    }
    return Optional.of(new ProcStatus(state, threads));
  }

  /** True until every thread has exited: a zombie main thread with live threads is still ending. */
  boolean running() {
    if (state == 'X') {
      return false;
    }
    return state != 'Z' || threads > 1;
  }
}
