package dev.vmlet.guest;

import java.io.InputStream;
import java.io.OutputStream;

/**
 * A program started by the JDK's launcher ({@link ProcessBuilder}); {@code ownGroup} when its argv
 * began with a setsid, so its pid is its process group's id and a kill reaches the whole group.
 */
final class JdkProgram implements StartedProgram {
  private final Process process;
  private final boolean ownGroup;

  JdkProgram(Process process, boolean ownGroup) {
    this.process = process;
    this.ownGroup = ownGroup;
  }

  @Override
  public OutputStream stdin() {
    return process.getOutputStream();
  }

  @Override
  public InputStream stdout() {
    return process.getInputStream();
  }

  @Override
  public InputStream stderr() {
    return process.getErrorStream();
  }

  @Override
  public int waitFor() throws InterruptedException {
    return process.waitFor();
  }

  @Override
  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void kill() {
    if (ownGroup) {
      Pty.killGroup(process.pid()); // the whole group at once; then whatever left it
    }
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }
}
