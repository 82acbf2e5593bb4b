package dev.vmlet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.flow.ReceiveWindow;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.StreamError;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The stream table and its credit, without a socket: the frames it sends are recorded. */
class LinkStreamsTest {
  private final List<Frame> sent = new ArrayList<>();
  private final LinkStreams streams = new LinkStreams("vm1", sent::add);

  /** A transfer listener that records what it is told. */
  private static final class Recorder implements TransferListener {
    final List<String> events = new ArrayList<>();
    final boolean returnsCredit;

    Recorder(boolean returnsCredit) {
      this.returnsCredit = returnsCredit;
    }

    @Override
    public void done(FileDone done) {
      events.add("done");
    }

    @Override
    public void failed(String reason) {
      events.add("failed:" + reason);
    }

    @Override
    public void failed(StreamError error) {
      events.add("failed:" + error.getCode() + ":" + error.getMessage());
    }

    @Override
    public void credited() {
      events.add("credited");
    }

    @Override
    public boolean returnsCredit() {
      return returnsCredit;
    }
  }

  @Test
  void streamsAreNumberedFromOne_andAFinishedStreamIsGone() {
    int a = streams.add(new Recorder(false));
    int b = streams.add(new Recorder(false));
    assertThat(a).isEqualTo(1);
    assertThat(b).isEqualTo(2);
    assertThat(streams.finish(a, "the transfer ended")).isNotNull();
    assertThat(streams.finish(a, "the transfer ended")).as("a stream ends once").isNull();
    assertThat(streams.size()).isEqualTo(1);
    assertThatThrownBy(() -> streams.require(a)).hasMessageContaining("stream 1 to the agent of VM vm1 has ended");
  }

  @Test
  void creditGoesBack_inOneWindowUpdatePerQuarterWindow() {
    int id = streams.add(new Recorder(false));
    LinkStreams.Stream s = streams.get(id);
    int chunk = 32 * 1024;
    for (int i = 0; i < 4; i++) {
      assertThat(streams.received(id, s, chunk)).isTrue();
      streams.delivered(id, s, chunk);
    }
    // 128 KiB delivered: two grants of 64 KiB (ReceiveWindow.GRANT_BATCH), not four of 32.
    assertThat(sent).extracting(f -> f.getWindowUpdate().getBytes())
        .containsExactly(ReceiveWindow.GRANT_BATCH, ReceiveWindow.GRANT_BATCH);
    assertThat(sent).allMatch(f -> f.getStreamId() == id);
  }

  @Test
  void aListenerThatReturnsCreditItself_getsNoAutomaticGrant() {
    int id = streams.add(new Recorder(true));
    LinkStreams.Stream s = streams.get(id);
    streams.received(id, s, ReceiveWindow.GRANT_BATCH);
    streams.delivered(id, s, ReceiveWindow.GRANT_BATCH);
    assertThat(sent).isEmpty();
    streams.consumed(id, ReceiveWindow.GRANT_BATCH);
    assertThat(sent).hasSize(1);
  }

  @Test
  void aGuestThatSendsPastItsWindow_hasTheStreamCancelled() {
    Recorder r = new Recorder(false);
    int id = streams.add(r);
    LinkStreams.Stream s = streams.get(id);
    assertThat(streams.received(id, s, SendWindow.INITIAL)).isTrue();
    assertThat(streams.received(id, s, 1)).isFalse();
    assertThat(sent).hasSize(1);
    assertThat(sent.get(0).getError().getCode()).isEqualTo(StreamError.Code.CANCELLED);
    assertThat(sent.get(0).getError().getMessage()).contains("more than its flow-control window");
    assertThat(r.events).containsExactly("failed:CANCELLED:the agent sent more than its flow-control window (262144 bytes)");
    assertThat(streams.contains(id)).isFalse();
  }

  @Test
  void aGrant_wakesAWaitingSender_andTellsATransferListener() throws Exception {
    Recorder r = new Recorder(false);
    int id = streams.add(r);
    SendWindow w = streams.get(id).send();
    assertThat(w.tryAcquire(SendWindow.INITIAL)).isTrue();
    CompletableFuture<Void> waiting = CompletableFuture.runAsync(() -> {
      try {
        w.acquire(1000);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
    });
    assertThat(streams.granted(id, 1000)).isTrue();
    waiting.get(10, TimeUnit.SECONDS);
    assertThat(r.events).containsExactly("credited");
    assertThat(streams.granted(99, 1000)).as("no such stream").isFalse();
  }

  @Test
  void failAll_failsEveryStreamOnce_andWakesItsSendersWithTheReason() {
    Recorder a = new Recorder(false);
    Recorder b = new Recorder(false);
    int ia = streams.add(a);
    streams.add(b);
    SendWindow w = streams.get(ia).send();
    streams.failAll(StreamError.Code.UNAVAILABLE, "the guest rebooted");
    streams.failAll(StreamError.Code.UNAVAILABLE, "again");
    assertThat(a.events).containsExactly("failed:UNAVAILABLE:the guest rebooted");
    assertThat(b.events).containsExactly("failed:UNAVAILABLE:the guest rebooted");
    assertThatThrownBy(() -> w.acquire(1)).hasMessage("the guest rebooted");
    assertThat(streams.size()).isZero();
  }
}
