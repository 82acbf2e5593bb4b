package dev.vmlet.fs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;

class UnixSocketsTest {
  @TempDir Path tmp;

  /** A listener that binds its socket file, waits {@code listenAfterMs}, then listens (never when negative). */
  private Process listener(Path sock, long listenAfterMs) throws Exception {
    String script = "import socket, sys, time\n"
        + "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
        + "s.bind(sys.argv[1])\n"
        + "print('bound', flush=True)\n"
        + "ms = int(sys.argv[2])\n"
        + "if ms < 0:\n    time.sleep(60)\n"
        + "time.sleep(ms / 1000)\n"
        + "s.listen(1)\n"
        + "c, _ = s.accept()\n"
        + "c.sendall(b'hi')\n"
        + "time.sleep(5)\n";
    Process p = new ProcessBuilder("python3", "-c", script, sock.toString(), Long.toString(listenAfterMs)).start();
    assertThat(new String(p.getInputStream().readNBytes(6))).isEqualTo("bound\n");
    assertThat(Files.exists(sock)).isTrue();
    return p;
  }

  @Test
  void connect_toASocketBoundButNotYetListening_waitsForTheListen() throws Exception {
    Path sock = tmp.resolve("s");
    Process p = listener(sock, 300);
    try (AFUNIXSocket s = UnixSockets.connect(sock, Duration.ofSeconds(10))) {
      assertThat(new String(s.getInputStream().readNBytes(2))).isEqualTo("hi");
    } finally {
      p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void connect_toASocketThatNeverListens_failsRefusedAfterTheTimeout() throws Exception {
    Path sock = tmp.resolve("s");
    Process p = listener(sock, -1);
    try {
      long t0 = System.nanoTime();
      assertThatThrownBy(() -> UnixSockets.connect(sock, Duration.ofMillis(400))).isInstanceOf(SocketException.class)
          .hasMessageContaining("refused");
      assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
    } finally {
      p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void connect_toAMissingFile_failsAtOnce() {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> UnixSockets.connect(tmp.resolve("none"), Duration.ofSeconds(10))).isInstanceOf(IOException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
  }
}
