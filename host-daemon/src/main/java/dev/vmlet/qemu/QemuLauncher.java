package dev.vmlet.qemu;

import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * Starts one VM's QEMU from its planned command line: the seam between deciding what to run and
 * running it, so that start, crash and stop can be tested with a stand-in process and a fake QMP
 * server instead of QEMU.
 */
@FunctionalInterface
public interface QemuLauncher {
  /** QEMU itself, in a session of its own ({@link QemuProcess#launch}). */
  QemuLauncher SESSION = QemuProcess::launch;

  /**
   * Starts {@code argv} and returns once it has set itself up: the pidfile in {@code files} names
   * it and its QMP socket ({@link VmFiles#qmpSocket()}) is there to connect to, with the console and
   * agent sockets its command line asks for.
   *
   * @param bound how long it may take; on expiry the process is killed
   * @return the process, alive
   * @throws IOException when it exited first (with its own error output) or took too long
   */
  ProcessHandle launch(List<String> argv, VmFiles files, Duration bound) throws IOException;
}
