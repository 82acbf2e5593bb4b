package dev.vmlet.console;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The console link over a real unix socket standing in for QEMU's. */
class ConsoleLinkTest {
  @TempDir Path dir;

  /** The files this JVM holds open, by path. */
  static List<String> openFiles() throws Exception {
    try (var fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.map(f -> {
        try {
          return Files.readSymbolicLink(f).toString();
        } catch (Exception e) {
          return "";
        }
      }).toList();
    }
  }

  @Test
  void close_returnsOnlyOnceTheLogIsClosed() throws Exception {
    Path sock = dir.resolve("console.sock");
    Path log = dir.resolve("console.log");
    try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(sock.toFile()))) {
      for (int i = 0; i < 20; i++) {
        ConsoleLink link = ConsoleLink.connect("vm", sock, log, Duration.ofSeconds(5));
        try (var qemu = server.accept()) {
          String line = "boot line " + i;
          qemu.getOutputStream().write((line + "\n").getBytes());
          qemu.getOutputStream().flush();
          Poll.until("the console log to hold '" + line + "'", Duration.ofSeconds(10), () -> Files.readString(log).contains(line));
          link.close();
          assertThat(openFiles()).as("after close, round " + i).doesNotContain(log.toString());
        }
      }
    }
  }
}
