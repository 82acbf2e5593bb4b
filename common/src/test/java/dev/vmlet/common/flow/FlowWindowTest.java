package dev.vmlet.common.flow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/** One stream's credit, both halves, without a link. */
class FlowWindowTest {
  @Test
  void tryAcquire_takesCreditOnlyWhenThereIsEnough_andNeverWaits() throws Exception {
    SendWindow w = new SendWindow(100);
    assertThat(w.tryAcquire(60)).isTrue();
    assertThat(w.tryAcquire(60)).as("40 left").isFalse();
    assertThat(w.available()).as("a refused try takes nothing").isEqualTo(40);
    w.grant(20);
    assertThat(w.tryAcquire(60)).isTrue();
    assertThat(w.available()).isZero();
  }

  @Test
  void tryAcquire_onAClosedWindow_failsWithTheReason() {
    SendWindow w = new SendWindow(100);
    w.close("the transfer ended");
    assertThatThrownBy(() -> w.tryAcquire(1)).isInstanceOf(IOException.class).hasMessage("the transfer ended");
  }

  @Test
  void receiveWindow_grantsInBatchesOfAQuarter_andRefusesASenderPastTheWindow() {
    ReceiveWindow r = new ReceiveWindow();
    assertThat(r.received(SendWindow.INITIAL)).isTrue();
    assertThat(r.consumed(ReceiveWindow.GRANT_BATCH - 1)).as("not a batch yet").isZero();
    assertThat(r.consumed(1)).isEqualTo(ReceiveWindow.GRANT_BATCH);
    assertThat(r.received(ReceiveWindow.GRANT_BATCH)).as("exactly what was granted back").isTrue();
    assertThat(r.received(1)).as("one byte past the window").isFalse();
  }
}
