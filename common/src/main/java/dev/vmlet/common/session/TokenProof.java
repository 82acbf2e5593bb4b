package dev.vmlet.common.session;

import java.nio.charset.StandardCharsets;

/** The agent's proof that it holds its VM's token: HMAC-SHA256 keyed with the token over the challenge and the session id. */
public final class TokenProof {
  private TokenProof() {}

  public static byte[] hmac(byte[] token, byte[] challenge, String sessionId) {
    return HmacSha256.mac(token, challenge, sessionId.getBytes(StandardCharsets.UTF_8));
  }
}
