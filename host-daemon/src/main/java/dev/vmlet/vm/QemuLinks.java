package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.qmp.QmpClient;

/**
 * The open connections to one running QEMU, opened together by {@link VmLinks#connect} and dropped
 * together when QEMU goes; each is thread-safe, so readers may use what a snapshot holds.
 */
record QemuLinks(ConsoleLink console, QmpClient qmp, AgentLink agent) {
  /** Closes every link; QEMU itself is not touched (it may be gone, or left running for the next daemon). */
  void close() {
    for (AutoCloseable c : new AutoCloseable[] {agent, qmp, console}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception ignored) {
        // closing a link to a QEMU that is gone or left running
      }
    }
  }
}
