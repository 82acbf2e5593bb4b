package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A spawned program's output as ExecOutput frames: every byte in order, no frame above a chunk. */
class ExecPipesTest {
  @AfterEach
  void traceOff() {
    HopTrace.enable(false);
  }

  @Test
  void pumpHere_sendsLargeOutputInOrder_inFramesOfAtMostAChunk_readingSeveralFramesAtATime() throws Exception {
    assumeTrue(PosixSpawn.available(), "this host's libc has no posix_spawn with closefrom and chdir");
    List<Frame> frames = new ArrayList<>();
    // A copy of each frame, as the link's writer keeps none: the frames wrap the pump's buffer.
    ExecPipes pipes = new ExecPipes(5, f -> frames.add(Frame.parseFrom(f.toByteArray())), new SendWindow(1L << 40), n -> { }, () -> { });
    PosixSpawn p = PosixSpawn.start("/bin/sh", List.of("sh", "-c", "seq 1 200000; echo oops >&2"), Map.of("PATH", "/usr/bin:/bin"), null, false);
    p.stdin().close();
    HopTrace.enable(true);
    long begun = System.nanoTime();
    HopTrace trace = HopTrace.begin(5, "exec", begun);
    pipes.pumpHere(p, trace);
    long pumpedUs = (System.nanoTime() - begun) / 1000;
    assertThat(p.waitFor()).isZero();

    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    for (Frame f : frames) {
      assertThat(f.getStreamId()).isEqualTo(5);
      assertThat(f.getExecOutput().getData().size()).isPositive().isLessThanOrEqualTo(GuestFiles.CHUNK);
      f.getExecOutput().getData().writeTo(f.getExecOutput().getFd() == ExecOutput.Fd.STDERR ? err : out);
    }
    String want = IntStream.rangeClosed(1, 200000).mapToObj(Integer::toString).collect(Collectors.joining("\n", "", "\n"));
    String got = out.toString(StandardCharsets.US_ASCII);
    assertThat(got.length()).isEqualTo(want.length());
    assertThat(got.equals(want)).as("stdout as seq wrote it").isTrue();
    assertThat(err.toString(StandardCharsets.US_ASCII)).isEqualTo("oops\n");
    String line = trace.line();
    long reads = Long.parseLong(line.replaceAll(".*; reads (\\d+);.*", "$1"));
    long sent = Long.parseLong(line.replaceAll(".*; frames (\\d+);.*", "$1"));
    assertThat(sent).isEqualTo(frames.size());
    assertThat(reads).as("reads (the program may write less than a read takes at a time)").isPositive().isLessThanOrEqualTo(sent);
    assertThat(line).contains("; bytes " + (want.length() + 5) + ";");
    // The first read with bytes is a hop; where the pump's time went are figures after the hops.
    assertThat(line).matches("hops stream 5 exec: first-output \\d+; .*");
    long firstOutput = Long.parseLong(line.replaceAll(".*first-output (\\d+);.*", "$1"));
    long pollWait = Long.parseLong(line.replaceAll(".*; poll-wait-us (\\d+);.*", "$1"));
    long reading = Long.parseLong(line.replaceAll(".*; read-us (\\d+);.*", "$1"));
    long sending = Long.parseLong(line.replaceAll(".*; send-us (\\d+)$", "$1"));
    assertThat(firstOutput).isLessThanOrEqualTo(pumpedUs);
    assertThat(reading).as("read(2) of the program's output").isPositive();
    assertThat(pollWait + reading + sending).as("the pump's parts, against its whole").isLessThanOrEqualTo(pumpedUs);
  }

  @Test
  void pumpHere_whenTheLinkFails_killsTheProgram() throws Exception {
    assumeTrue(PosixSpawn.available(), "this host's libc has no posix_spawn with closefrom and chdir");
    PosixSpawn p = PosixSpawn.start("/bin/sh", List.of("sh", "-c", "exec cat /dev/zero"), Map.of("PATH", "/usr/bin:/bin"), null, true);
    p.stdin().close();
    ExecPipes pipes = new ExecPipes(6, f -> {
      throw new java.io.IOException("the session ended");
    }, new SendWindow(), n -> { }, p::kill);
    pipes.pumpHere(p, HopTrace.OFF); // returns: the program was killed, its output ended
    assertThat(p.waitFor()).isEqualTo(128 + 9);
  }
}
