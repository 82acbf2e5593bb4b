package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.frame.FrameEncoder;
import dev.vmlet.common.frame.FrameFormat;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Heartbeat;
import dev.vmlet.proto.agent.v1.Hello;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.faults.Faults;
import java.util.Arrays;
import org.junit.jupiter.api.Assertions;

/**
 * The link's session with the real agent and the real daemon link, no VM: resynchronising after
 * garbage, refusing oversized frames, and coming back after agent restarts and host reconnections,
 * with requests in flight failing instead of hanging.
 */
class SessionProtocolTest {
  @TempDir Path dir;
  private ProtocolHarness h;

  @AfterEach
  void close() throws Exception {
    if (h != null) {
      h.close();
    }
  }

  private static byte[] garbage(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    // With a magic in it, so the reader has to reject a false header too.
    ByteBuffer.wrap(b).putInt(n / 2, FrameFormat.MAGIC);
    return b;
  }

  @Test
  void garbageBeforeAndBetweenFrames_isSkipped_bothWays() throws Exception {
    h = new ProtocolHarness(dir);
    for (int i = 0; i < 5; i++) {
      h.relay.injectToAgent(garbage(3000 + i, i));
      h.relay.injectToHost(garbage(5000 + i, 100 + i));
      assertThat(h.run("echo", "after garbage " + i).stdout()).isEqualTo("after garbage " + i + "\n");
    }
    // A valid frame cut short, then a whole one: the reader resynchronises on the whole one.
    byte[] hb = FrameEncoder.encode(Frame.newBuilder().setHeartbeat(Heartbeat.newBuilder().setSequence(7)).build());
    h.relay.injectToAgent(Arrays.copyOf(hb, hb.length - 3));
    assertThat(h.run("echo", "ok").stdout()).isEqualTo("ok\n");
  }

  @Test
  void anOversizedLength_isRefusedBeforeAllocation_andTheLinkGoesOn() throws Exception {
    h = new ProtocolHarness(dir);
    ByteBuffer header = ByteBuffer.allocate(FrameFormat.HEADER_SIZE);
    int huge = 1 << 30;
    header.putInt(FrameFormat.MAGIC).putInt(huge).putInt(~huge).putInt(0);
    h.relay.injectToAgent(header.array());
    h.relay.injectToHost(header.array());
    long before = Runtime.getRuntime().totalMemory();
    assertThat(h.run("echo", "fine").stdout()).isEqualTo("fine\n");
    assertThat(Runtime.getRuntime().totalMemory() - before).isLessThan(256L << 20);
  }

  @Test
  void agentRestarts_100Cycles_eachComesBack_andWhatWasInFlightFails() throws Exception {
    h = new ProtocolHarness(dir);
    Hello first = h.link.hello();
    long t0 = System.nanoTime();
    int back = 0;
    int inFlightFailed = 0;
    for (int i = 0; i < 100; i++) {
      ProtocolHarness.Recorder inFlight = i % 10 == 0 ? h.start(ExecStart.newBuilder().addArgv("sleep").addArgv("100").build()) : null;
      h.agent.close();
      h.startAgent();
      Hello again = h.awaitReady();
      assertThat(again.getAgentStartId()).isNotEqualTo(first.getAgentStartId());
      first = again;
      if (inFlight != null) {
        ExecutionException e = Assertions.assertThrows(ExecutionException.class,
            () -> inFlight.result.get(10, TimeUnit.SECONDS));
        assertThat(e.getCause().getMessage()).containsAnyOf("restarted", "closed", "new session");
        inFlightFailed++;
      }
      assertThat(h.run("echo", Integer.toString(i)).stdout()).isEqualTo(i + "\n");
      back++;
    }
    System.out.printf("100 agent restarts, each back and answering: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    Faults.report("agent restarted (protocol level, no VM)", String.format(
        "100 agent restarts: back and answering %d/100 in %.1f s in all; requests in flight failed with the reason %d/10",
        back, (System.nanoTime() - t0) / 1e9, inFlightFailed));
  }

  @Test
  void hostReconnections_100Cycles_theAgentSaysHelloAgainEachTime() throws Exception {
    h = new ProtocolHarness(dir);
    long t0 = System.nanoTime();
    int back = 0;
    int inFlightFailed = 0;
    for (int i = 0; i < 100; i++) {
      ProtocolHarness.Recorder inFlight = i % 10 == 0 ? h.start(ExecStart.newBuilder().addArgv("sleep").addArgv("100").build()) : null;
      h.link.close();
      h.relay.cut();
      if (inFlight != null) {
        ExecutionException e = Assertions.assertThrows(ExecutionException.class,
            () -> inFlight.result.get(10, TimeUnit.SECONDS));
        assertThat(e.getCause().getMessage()).contains("closed");
        inFlightFailed++;
      }
      h.connectLink();
      h.awaitReady();
      assertThat(h.run("echo", Integer.toString(i)).stdout()).isEqualTo(i + "\n");
      back++;
    }
    System.out.printf("100 host reconnections, each welcomed and answering: %.1f s%n", (System.nanoTime() - t0) / 1e9);
    Faults.report("host link cut (protocol level, no VM)", String.format(
        "100 reconnections: welcomed and answering %d/100 in %.1f s in all; requests in flight failed with the reason %d/10",
        back, (System.nanoTime() - t0) / 1e9, inFlightFailed));
  }

  @Test
  void anAgentThatMissedTheOldHostsEnd_saysHelloToTheNewOneAtOnce() throws Exception {
    h = new ProtocolHarness(dir);
    Hello first = h.link.hello();
    // As when the agent's reader was held in a blocked write while the daemon died and a new one
    // connected: the port's "host gone" never reached it, and it still thinks it has a session.
    h.relay.agentMissesHostLoss(true);
    h.link.close();
    h.relay.awaitHostGone(Duration.ofSeconds(5));
    long t0 = System.nanoTime();
    h.connectLink();
    // Well under the agent's own limit (three 5 s heartbeat intervals), which it would wait for
    // without the new link's no-session heartbeat.
    Hello again = h.ready.poll(5, TimeUnit.SECONDS);
    assertThat(again).as("a new session within 5 s").isNotNull();
    System.out.printf("an agent that missed the host's end: new session %d ms after the new link%n", (System.nanoTime() - t0) / 1_000_000);
    assertThat(again.getAgentStartId()).isEqualTo(first.getAgentStartId());
    assertThat(again.getSessionNumber()).isGreaterThan(first.getSessionNumber());
    assertThat(h.run("echo", "back").stdout()).isEqualTo("back\n");
  }

  @Test
  void anAgentThatStopsAnswering_isLost_thenWelcomedBackWhenItTalksAgain() throws Exception {
    h = new ProtocolHarness(dir, Policy.allowAll(), Duration.ofMillis(200));
    // A silent agent (a hung guest): the relay drops everything it sends.
    ProtocolHarness.Recorder inFlight = h.start(ExecStart.newBuilder().addArgv("sleep").addArgv("100").build());
    h.relay.muteAgent(true);
    String why = h.lost.poll(10, TimeUnit.SECONDS);
    assertThat(why).contains("has not answered");
    ExecutionException e = Assertions.assertThrows(ExecutionException.class,
        () -> inFlight.result.get(10, TimeUnit.SECONDS));
    assertThat(e.getCause().getMessage()).contains("requests in flight failed");
    h.relay.muteAgent(false);
    // The host stopped sending heartbeats when it lost the session, so the agent's watchdog ends
    // its side too and it says Hello again: a new session starts.
    h.awaitReady();
    assertThat(h.run("echo", "back").stdout()).isEqualTo("back\n");
  }
}
