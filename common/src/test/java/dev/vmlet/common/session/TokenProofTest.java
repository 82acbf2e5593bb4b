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

  @Test
  void theHostsExpectedProof_fromTheJdk_equalsTheAgents() {
    byte[] token = new byte[32];
    byte[] challenge = new byte[32];
    for (int i = 0; i < 32; i++) {
      token[i] = (byte) (i * 7 + 1);
      challenge[i] = (byte) (255 - i);
    }
    assertThat(TokenProof.expected(token, challenge, "s-1")).isEqualTo(TokenProof.hmac(token, challenge, "s-1"));
    assertThat(TokenProof.expected(token, challenge, "s-1")).isNotEqualTo(TokenProof.hmac(token, challenge, "s-2"));
  }
}
