package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;

class GuestFactsTest {
  @Test
  void newStartId_isARandomUuid_differentAtEachCall() {
    String first = GuestFacts.newStartId();
    String second = GuestFacts.newStartId();

    assertThat(UUID.fromString(first).version()).isEqualTo(4);
    assertThat(UUID.fromString(second).version()).isEqualTo(4);
    assertThat(first).isNotEqualTo(second);
  }
}
