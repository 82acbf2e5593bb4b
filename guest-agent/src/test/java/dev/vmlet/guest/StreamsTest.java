package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.flow.ReceiveWindow;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Credit for what a stream consumed goes back on that stream, and only within its own session. */
class StreamsTest {
  private final AtomicInteger session = new AtomicInteger();
  private final List<Frame> written = new CopyOnWriteArrayList<>();
  private final Streams streams = new Streams(Policy.allowAll(), this::sink, FilePushes.inline());

  /** As Agent.sink: a stream's sink fails once the session it was made in has ended. */
  private FrameSink sink(int id) {
    int gen = session.get();
    return f -> {
      if (gen != session.get()) {
        throw new IOException("the session of stream " + id + " ended");
      }
      written.add(f);
    };
  }

  @AfterEach
  void shutdown() {
    streams.shutdown();
  }

  @Test
  void consumedBytes_areGrantedBackOnTheirStream() {
    Streams.AgentStream s = streams.open(7);
    s.receive.received(ReceiveWindow.GRANT_BATCH);
    streams.consumed(7, s, ReceiveWindow.GRANT_BATCH);
    assertThat(written).singleElement().satisfies(f -> {
      assertThat(f.getStreamId()).isEqualTo(7);
      assertThat(f.getWindowUpdate().getBytes()).isEqualTo(ReceiveWindow.GRANT_BATCH);
    });
  }

  @Test
  void bytesConsumedAfterTheSessionEnded_areNotGrantedIntoTheNextSession() {
    Streams.AgentStream s = streams.open(7);
    s.receive.received(ReceiveWindow.GRANT_BATCH);
    // The session ends and a new one begins while an exec's stdin feeder still writes what it had.
    session.incrementAndGet();
    streams.consumed(7, s, ReceiveWindow.GRANT_BATCH);
    assertThat(written).isEmpty();
  }
}
