package dev.vmlet.guest;

import dev.vmlet.agent.AgentLink;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.vmlet.common.frame.FrameEncoder;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.common.testing.Poll;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.io.IOException;

/** A guest that misbehaves: frames that answer nothing are dropped and counted; a flood cuts the link. */
class HostileAgentTest {
  @TempDir Path dir;

  private static void send(SocketChannel c, Frame f) throws Exception {
    ByteBuffer b = ByteBuffer.wrap(FrameEncoder.encode(f));
    while (b.hasRemaining()) {
      c.write(b);
    }
  }

  private static Frame unsolicited(int i) {
    return Frame.newBuilder().setStreamId(1_000 + i)
        .setExecOutput(ExecOutput.newBuilder().setData(ByteString.copyFromUtf8("not asked for"))).build();
  }

  @Test
  void unsolicitedFrames_areDroppedAndCounted_andAFloodCutsTheLink() throws Exception {
    try (LinkRelay relay = new LinkRelay(dir); SocketChannel guest = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      guest.connect(UnixDomainSocketAddress.of(relay.agentSocket));
      CountDownLatch ready = new CountDownLatch(1);
      CompletableFuture<Void> closed = new CompletableFuture<>();
      AgentLink link = AgentLink.connect("hostile", "i-1", relay.hostSocket, Duration.ofSeconds(5), Duration.ofSeconds(30),
          new AgentLink.Events() {
            @Override
            public void ready(Hello h) {
              ready.countDown();
            }

            @Override
            public void closed() {
              closed.complete(null);
            }
          });
      relay.awaitBothSides(Duration.ofSeconds(5)); // a Hello sent before that would be lost
      send(guest, Frame.newBuilder().setHello(Hello.newBuilder().setInstanceId("i-1").setBootId("b").setAgentVersion("evil")
          .setProtocolVersion(Agent.PROTOCOL_VERSION).setMinProtocolVersion(Agent.MIN_PROTOCOL_VERSION).setAgentStartId("s")
          .setSessionNumber(1)).build());
      assertThat(ready.await(10, TimeUnit.SECONDS)).isTrue();
      for (int i = 0; i < 10; i++) {
        send(guest, unsolicited(i));
      }
      Poll.until("the link to drop the 10 unsolicited frames", Duration.ofSeconds(5), () -> link.dropped() >= 10);
      assertThat(link.dropped()).isEqualTo(10);
      assertThat(closed).isNotDone(); // a few stray frames do not end the link
      ProtocolHarness.Recorder pending = new ProtocolHarness.Recorder();
      link.exec(ExecStart.newBuilder().addArgv("sleep").addArgv("9").build(), pending); // never answered by this guest
      try {
        for (int i = 0; i < AgentLink.FLOOD_FRAMES + 50; i++) {
          send(guest, unsolicited(i));
        }
      } catch (IOException e) {
        // the cut reached this guest before it stopped sending: the relay closes a port the host left
      }
      closed.get(10, TimeUnit.SECONDS);
      assertThat(link.dropped()).isGreaterThan(AgentLink.FLOOD_FRAMES);
      assertThat(pending.result).isCompletedExceptionally();
      assertThat(pending.result.handle((r, e) -> e.getMessage()).get()).contains("frames that answer nothing");
    }
  }
}
