package dev.vmlet.guest;

import dev.vmlet.agent.AgentException;
import dev.vmlet.agent.AgentFiles;
import dev.vmlet.agent.ExecListener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.faults.Faults;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.StreamError;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults of the link itself, with the real agent and the real daemon link over unix sockets (the
 * fault suite's protocol-level part, see {@link Faults}): a push cut mid-way, and a host that stops
 * reading the agent for a while.
 */
class LinkFaultTest {
  private static final Duration T = Duration.ofSeconds(60);
  @TempDir Path dir;
  private ProtocolHarness h;

  @AfterEach
  void close() throws Exception {
    if (h != null) {
      h.close();
    }
  }

  private static String sha256(byte[] data) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  private static List<String> listing(Path d) throws IOException {
    try (var s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aPushCutMidway_leavesNoPartialDestination_andARetryResumes() throws Exception {
    Path guest = Files.createDirectories(dir.resolve("guest"));
    h = new ProtocolHarness(dir);
    int cycles = Faults.pick(5, 100);
    Random random = new Random(9);
    int resumed = 0;
    long keptTotal = 0;
    long sentTotal = 0;
    for (int i = 0; i < cycles; i++) {
      byte[] data = new byte[(4 + random.nextInt(12)) << 20];
      random.nextBytes(data);
      String sha = sha256(data);
      int cutAt = (int) (data.length * (0.1 + 0.8 * random.nextDouble()));
      Path target = guest.resolve("f" + i + ".bin");
      InputStream cutting = new ByteArrayInputStream(data) {
        @Override
        public synchronized int read(byte[] b, int off, int len) {
          if (pos >= cutAt) {
            h.relay.cut();
          }
          return super.read(b, off, len);
        }
      };
      assertThatThrownBy(() -> AgentFiles.push(h.link, FileTransferProtocolTest.to(target), cutting, () -> sha, T))
          .as("cycle %d: the cut push fails", i).isInstanceOf(IOException.class);
      Path kept = guest.resolve(".f" + i + ".bin.vmlet-resume");
      Poll.until("cycle " + i + ": the agent to notice the cut and keep what it has in " + kept, Duration.ofSeconds(10),
          () -> Files.exists(kept));
      assertThat(target).as("cycle %d: nothing at the destination", i).doesNotExist();
      assertThat(listing(guest)).as("cycle %d: only what a resume needs", i).containsExactlyElementsOf(existing(guest, i));

      h.connectLink();
      h.awaitReady();
      long[] from = {-1};
      FileDone done = AgentFiles.push(h.link, FileTransferProtocolTest.to(target).toBuilder().setResume(true).build(),
          new ByteArrayInputStream(data), () -> sha, T, n -> from[0] = n);
      assertThat(done.getSha256()).isEqualTo(sha);
      assertThat(FileTransferProtocolTest.sha256(target)).isEqualTo(sha);
      assertThat(kept).doesNotExist();
      if (from[0] > 0) {
        resumed++;
      }
      keptTotal += Math.max(0, from[0]);
      sentTotal += data.length;
    }
    Faults.report("transfer cut mid-way", String.format(
        "%d pushes of 4-15 MiB cut at a random point: partial files at the destination 0/%d; retries resumed %d/%d"
            + " (%.0f%% of the bytes kept by the guest, not sent again); digests matched %d/%d",
        cycles, cycles, resumed, cycles, 100.0 * keptTotal / sentTotal, cycles, cycles));
    assertThat(resumed).as("retries that resumed from kept bytes").isEqualTo(cycles);
  }

  /** What the guest directory may hold after cycle {@code i}'s cut: the pushes done, and i's kept bytes. */
  private static List<String> existing(Path guest, int i) {
    List<String> names = new ArrayList<>();
    for (int k = 0; k < i; k++) {
      names.add("f" + k + ".bin");
    }
    names.add(".f" + i + ".bin.vmlet-resume");
    return names.stream().sorted().toList();
  }

  /** Digests exec output as it comes, holding none of it. */
  private static final class Digesting implements ExecListener {
    final MessageDigest digest;
    final AtomicLong bytes = new AtomicLong();
    final CompletableFuture<ExecExit> exit = new CompletableFuture<>();
    /** Completed once {@code mark} bytes have arrived. */
    final CompletableFuture<Void> atMark = new CompletableFuture<>();
    private final long mark;

    Digesting(long mark) throws Exception {
      digest = MessageDigest.getInstance("SHA-256");
      this.mark = mark;
    }

    @Override
    public synchronized void stdout(byte[] data) {
      digest.update(data);
      if (bytes.addAndGet(data.length) >= mark) {
        atMark.complete(null);
      }
    }

    @Override
    public void stderr(byte[] data) {}

    @Override
    public void exit(ExecExit e) {
      exit.complete(e);
    }

    @Override
    public void failed(String reason) {
      exit.completeExceptionally(new IOException(reason));
    }

    @Override
    public void failed(StreamError error) {
      exit.completeExceptionally(new AgentException(error));
    }
  }

  private static long heapUsed() {
    Runtime r = Runtime.getRuntime();
    System.gc();
    return r.totalMemory() - r.freeMemory();
  }

  @Test
  void aHostThatStopsReading_holdsTheAgentBack_andNothingIsLostWhenItReadsAgain() throws Exception {
    h = new ProtocolHarness(dir);
    int stallMs = Faults.pick(3_000, 12_000); // under the link's liveness limit (3 heartbeats, 15 s)
    int cycles = Faults.pick(2, 5);
    long lines = 9_000_000; // `seq 1 9000000`: about 71 MB
    MessageDigest expected = MessageDigest.getInstance("SHA-256");
    StringBuilder chunk = new StringBuilder();
    long expectedBytes = 0;
    for (long n = 1; n <= lines; n++) {
      chunk.append(n).append('\n');
      if (chunk.length() > 1 << 16 || n == lines) {
        byte[] b = chunk.toString().getBytes(StandardCharsets.US_ASCII);
        expected.update(b);
        expectedBytes += b.length;
        chunk.setLength(0);
      }
    }
    String expectedSha = HexFormat.of().formatHex(expected.digest());
    long base = heapUsed();
    long worstGrowth = 0;
    long worstArrivedWhileStalled = 0;
    for (int c = 0; c < cycles; c++) {
      Digesting out = new Digesting(expectedBytes / 3);
      h.link.exec(ExecStart.newBuilder().addArgv("seq").addArgv("1").addArgv(Long.toString(lines)).build(), out);
      out.atMark.get(60, TimeUnit.SECONDS);
      h.relay.stallAgent(true);
      h.relay.awaitAgentHeld(Duration.ofSeconds(10));
      // What the relay passed on before it held the agent may still be in the host's socket or the
      // link's decoder, and nothing announces that the link has taken the last of it: a short settle.
      Thread.sleep(200);
      long atStall = out.bytes.get();
      Thread.sleep(stallMs); // the stall under test: nothing may arrive while the host does not read
      long arrivedWhileStalled = out.bytes.get() - atStall;
      long growth = heapUsed() - base;
      h.relay.stallAgent(false);
      ExecExit exit = out.exit.get(60, TimeUnit.SECONDS);
      assertThat(exit.getExitCode()).isZero();
      assertThat(out.bytes.get()).as("bytes after the stall").isEqualTo(expectedBytes);
      assertThat(HexFormat.of().formatHex(out.digest.digest())).isEqualTo(expectedSha);
      assertThat(arrivedWhileStalled).as("nothing flows while the host does not read").isZero();
      assertThat(growth).as("heap growth while stalled").isLessThan(32L << 20);
      worstGrowth = Math.max(worstGrowth, growth);
      worstArrivedWhileStalled = Math.max(worstArrivedWhileStalled, arrivedWhileStalled);
    }
    assertThat(h.run("echo", "still here").stdout()).isEqualTo("still here\n");
    Faults.report("stalled reader", String.format(
        "%d times the host stopped reading for %.0f s in the middle of a %.1f MB exec output: bytes lost 0 (digest matched %d/%d),"
            + " bytes that got through while stalled %d, heap growth in the JVM holding both ends at most %.1f MiB"
            + " (the program waits on its pipe: the agent reads it only within the 256 KiB window)",
        cycles, stallMs / 1000.0, expectedBytes / 1e6, cycles, cycles, worstArrivedWhileStalled, Math.max(0, worstGrowth) / 1048576.0));
  }
}
