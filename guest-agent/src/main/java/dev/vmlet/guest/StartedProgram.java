package dev.vmlet.guest;

import java.io.InputStream;
import java.io.OutputStream;

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

  /** Waits for the program to end (a {@link #kill} ends the wait): its exit code, or 128 + the signal that ended it. */
  int waitFor() throws InterruptedException;

  boolean isAlive();

  /** SIGKILL to the program, its process group when it has one, and its descendants. */
  void kill();
}
