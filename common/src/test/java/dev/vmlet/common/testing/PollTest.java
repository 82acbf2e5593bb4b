package dev.vmlet.common.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PollTest {
  @Test
  void until_returnsOnceTheConditionHolds() throws Exception {
    AtomicInteger probes = new AtomicInteger();
    Poll.until("the third probe", Duration.ofSeconds(10), () -> probes.incrementAndGet() == 3);
    assertThat(probes).hasValue(3);
  }

  @Test
  void forValue_returnsTheFirstValueFound() throws Exception {
    AtomicInteger probes = new AtomicInteger();
    assertThat(Poll.forValue("a value", Duration.ofSeconds(10), () -> probes.incrementAndGet() < 4 ? null : "found")).isEqualTo("found");
  }

  @Test
  void aConditionThatNeverHolds_failsNamingWhatWasAwaited_atTheDeadline() {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> Poll.until("the moon to turn blue", Duration.ofMillis(200), () -> false))
        .isInstanceOf(AssertionError.class).hasMessage("timed out after 200 ms waiting for the moon to turn blue");
    assertThat(System.nanoTime() - t0).isBetween(Duration.ofMillis(200).toNanos(), Duration.ofSeconds(5).toNanos());
  }

  @Test
  void aProbeThatThrows_endsTheWaitAtOnce() {
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> Poll.until("anything", Duration.ofSeconds(30), () -> {
      throw new IOException("broken probe");
    })).isInstanceOf(IOException.class).hasMessage("broken probe");
    assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(5).toNanos());
  }
}
