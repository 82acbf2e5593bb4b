package dev.vmlet.common.session;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** The agent's proof that it holds its VM's token: HMAC-SHA256 keyed with the token over the challenge and the session id. */
public final class TokenProof {
  private TokenProof() {}

  public static byte[] hmac(byte[] token, byte[] challenge, String sessionId) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(token, "HmacSHA256"));
      mac.update(challenge);
      return mac.doFinal(sessionId.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JVM", e);
    }
  }
}
