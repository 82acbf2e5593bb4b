package dev.vmlet.guest;

import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.TimeUnit;

/**
 * A program an exec started: its pipes, its end, and a kill that reaches what it started. Two
 * ways to start one: {@link PosixSpawn} (one clone and one exec, in a session of its own) and
 * {@link JdkProgram} (the JDK's launcher, for a terminal or where posix_spawn cannot make a session).
 */
interface StartedProgram {
  /** What the host sends to the program's stdin; close it for end of input. */
  OutputStream stdin();

  /** The program's stdout (with its stderr when they were merged). */
  InputStream stdout();

  /** The program's stderr; null when it was merged into stdout or a terminal has both. */
  InputStream stderr();

  /** Waits at most {@code timeout} for the program to end; true when it did. */
  boolean waitFor(long timeout, TimeUnit unit) throws InterruptedException;

  /** Waits for the program to end: its exit code, or 128 + the signal that ended it. */
  int waitFor() throws InterruptedException;

  boolean isAlive();

  /** SIGKILL to the program, its process group when it has one, and its descendants. */
  void kill();
}
