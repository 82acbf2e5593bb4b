package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.proto.agent.v1.Welcome;
import dev.vmlet.common.testing.Poll;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HexFormat;

/** The serial transport on a real pseudo-terminal pair made by socat, as a guest's ttyS1 would be. */
class SerialTransportTest {
  @TempDir Path dir;
  private Process socat;
  private Path guestEnd;
  private Path hostEnd;

  @BeforeEach
  void ptyPair() throws Exception {
    assumeTrue(new ProcessBuilder("sh", "-c", "command -v socat").start().waitFor() == 0, "socat is not installed");
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    socat = new ProcessBuilder("socat", "pty,rawer,link=" + a, "pty,rawer,link=" + b)
        .redirectErrorStream(true).redirectOutput(dir.resolve("socat.log").toFile()).start();
    Poll.until("socat to link both ends of its pseudo-terminal pair", Duration.ofSeconds(10), () -> Files.exists(a) && Files.exists(b));
    guestEnd = a.toRealPath();
    hostEnd = b.toRealPath();
  }

  @AfterEach
  void stop() throws Exception {
    if (socat != null) {
      socat.destroy();
      socat.waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aMebibyteFromTheHost_arrivesIntact() throws Exception {
    byte[] data = new byte[1 << 20];
    new Random(9).nextBytes(data);
    try (Transport.Connection c = new SerialTransport(guestEnd.toString()).open();
         OutputStream toGuest = new FileOutputStream(hostEnd.toFile())) {
      CompletableFuture<byte[]> received = CompletableFuture.supplyAsync(() -> {
        try {
          return c.in().readNBytes(data.length);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      for (int off = 0; off < data.length; off += 4096) {
        toGuest.write(data, off, 4096);
      }
      toGuest.flush();
      assertThat(sha(received.get(30, TimeUnit.SECONDS))).isEqualTo(sha(data));
    }
  }

  @Test
  void theAgent_saysHelloAndRunsAnExec_overTheSerialLine() throws Exception {
    Hello hello = Hello.newBuilder().setInstanceId("serial-1").setAgentVersion(Agent.VERSION).build();
    Agent agent = new Agent(new SerialTransport(guestEnd.toString()), hello, Duration.ofMillis(200), Policy.allowAll());
    Thread t = new Thread(() -> {
      try {
        agent.run();
      } catch (InterruptedException ignored) {
        // stopped
      }
    });
    t.setDaemon(true);
    t.start();
    try (OutputStream toGuest = new FileOutputStream(hostEnd.toFile()); InputStream fromGuest = new FileInputStream(hostEnd.toFile())) {
      FrameReader in = new FrameReader(fromGuest, e -> { });
      FrameWriter out = new FrameWriter(toGuest);
      Frame f = in.read();
      assertThat(f.getHello().getInstanceId()).isEqualTo("serial-1");
      out.write(Frame.newBuilder().setWelcome(Welcome.newBuilder().setSessionId("s").setProtocolVersion(1)).build());
      out.write(Frame.newBuilder().setStreamId(5).setExecStart(ExecStart.newBuilder().addArgv("echo").addArgv("over serial")).build());
      StringBuilder stdout = new StringBuilder();
      while (!(f = in.read()).hasExecExit()) {
        if (f.hasExecOutput()) {
          stdout.append(f.getExecOutput().getData().toStringUtf8());
        }
      }
      assertThat(stdout.toString()).isEqualTo("over serial\n");
      assertThat(f.getStreamId()).isEqualTo(5);
    } finally {
      agent.close();
    }
  }

  @Test
  void aPortThatIsNotThere_failsSayingWhatToCheck() {
    assertThatThrownBy(() -> new SerialTransport("/dev/ttyNOPE9").open())
        .hasMessageContaining("cannot open serial port /dev/ttyNOPE9").hasMessageContaining("configured in the VM");
  }

  private static String sha(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }
}
