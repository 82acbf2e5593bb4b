package dev.vmlet.common.session;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class TokenProofTest {
  @Test
  void isHmacSha256OfTheChallengeThenTheSession_rfc4231Case2() {
    byte[] mac = TokenProof.hmac("Jefe".getBytes(StandardCharsets.US_ASCII), "what do ya want ".getBytes(StandardCharsets.US_ASCII),
        "for nothing?");
    assertThat(HexFormat.of().formatHex(mac)).isEqualTo("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
}
