package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * What a clone's clock and MAC calls hand to libc. The calls that change them are not made here:
 * as root they would change this machine's clock and MAC (TemplateIT makes them in real clones).
 */
class CloneClockAndMacTest {
  @Test
  void ifreq_holdsTheNameThenAnEthernetSockaddrWithTheMac() {
    byte[] req = CloneClockAndMac.ifreq("eth0", "52:54:00:aB:cd:0f");
    assertThat(req).hasSize(CloneClockAndMac.IFREQ_BYTES);
    assertThat(Arrays.copyOfRange(req, 0, 5)).containsExactly('e', 't', 'h', '0', 0);
    assertThat(ByteBuffer.wrap(req, 16, 2).order(ByteOrder.nativeOrder()).getShort()).isEqualTo((short) 1); // ARPHRD_ETHER
    assertThat(Arrays.copyOfRange(req, 18, 24)).containsExactly(0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f);
    assertThat(Arrays.copyOfRange(req, 24, 40)).containsOnly(0);
  }

  @Test
  void ifreq_refusesANameTooLongForTheKernel_andWhatIsNotAMac() {
    assertThatThrownBy(() -> CloneClockAndMac.ifreq("a-name-of-16-chr", "52:54:00:00:00:01"))
        .hasMessageContaining("is not 1 to 15 characters");
    assertThatThrownBy(() -> CloneClockAndMac.ifreq("eth0", "52:54:00:00:00")).hasMessageContaining("is not a MAC address");
    assertThat(CloneClockAndMac.setMac("eth0", "not-a-mac")).contains("is not a MAC address");
  }

  @Test
  void timespec_isWholeSecondsAndNanoseconds() {
    assertThat(CloneClockAndMac.timespec(1_796_198_325_331L)).containsExactly(1_796_198_325L, 331_000_000L);
    assertThat(CloneClockAndMac.timespec(999)).containsExactly(0L, 999_000_000L);
  }

  @Test
  void prepare_loadsLibcWithoutChangingAnything() {
    long before = System.currentTimeMillis();
    CloneClockAndMac.prepare();
    assertThat(System.currentTimeMillis()).isBetween(before, before + 60_000);
  }
}
