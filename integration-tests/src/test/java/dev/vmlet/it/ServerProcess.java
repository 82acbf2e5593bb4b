package dev.vmlet.it;

import dev.vmlet.common.testing.Poll;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** What the tests' own servers (Prometheus, a registry) share: a free port, the wait for readiness, the stop by pid. */
final class ServerProcess {
  private ServerProcess() {}

  /** Asks whether the server answers yet; an IOException means not yet. */
  @FunctionalInterface
  interface Ready {
    boolean answers() throws IOException, InterruptedException;
  }

  static int freeLoopbackPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Polls {@code ready} for at most {@code bound}; fails with the server's log when it exits or never answers. */
  static void awaitReady(String what, Process process, Path log, Duration bound, Ready ready) throws Exception {
    try {
      Poll.until(what, bound, () -> {
        if (!process.isAlive()) {
          throw new AssertionError(what + ": the server exited " + process.exitValue() + ": " + Files.readString(log));
        }
        try {
          return ready.answers();
        } catch (IOException notYet) {
          return false; // not listening yet
        }
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; its log: " + Files.readString(log), e);
    }
  }

  /** SIGTERM to this pid only, then SIGKILL if it outstays 20 s. */
  static void stop(Process process) throws InterruptedException {
    process.destroy();
    if (!process.waitFor(20, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
