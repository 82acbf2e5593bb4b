package dev.vmlet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Flood control on a fake clock. */
class FloodGuardTest {
  private final AtomicLong now = new AtomicLong();
  private final FloodGuard guard = new FloodGuard(3, Duration.ofSeconds(10), now::get);

  @Test
  void moreThanTheLimitWithinOneWindow_tripsOnce() {
    assertThat(guard.dropped()).isFalse();
    assertThat(guard.dropped()).isFalse();
    assertThat(guard.dropped()).isFalse();
    assertThat(guard.dropped()).as("the fourth within 10 s").isTrue();
    assertThat(guard.dropped()).as("cut once").isFalse();
    assertThat(guard.total()).isEqualTo(5);
    assertThat(guard.reason()).isEqualTo("the agent sent more than 3 frames that answer nothing within 10 s; the link was cut");
  }

  @Test
  void theLimitCountsPerWindow_notSinceTheLinkWasMade() {
    for (int i = 0; i < 30; i++) {
      now.addAndGet(Duration.ofSeconds(4).toNanos()); // at most three within any 10 s: never past the limit
      assertThat(guard.dropped()).as("drop %d", i).isFalse();
    }
    assertThat(guard.total()).isEqualTo(30);
  }
}
