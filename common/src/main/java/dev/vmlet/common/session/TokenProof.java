package dev.vmlet.common.session;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The agent's proof that it holds its VM's token: HMAC-SHA256 keyed with the token over the
 * challenge and the session id. The agent computes it with {@link HmacSha256} (the JCA's set-up
 * cost 0.4 s of its start under TCG); the host checks it with the JDK's own {@link Mac}, so every
 * handshake also checks the agent's HMAC against the JDK's.
 */
public final class TokenProof {
  private TokenProof() {}

  /** The proof as the agent makes it. */
  public static byte[] hmac(byte[] token, byte[] challenge, String sessionId) {
    return HmacSha256.mac(token, challenge, sessionId.getBytes(StandardCharsets.UTF_8));
  }

  /** The proof as the host expects it, from the JDK's HmacSHA256. */
  public static byte[] expected(byte[] token, byte[] challenge, String sessionId) {
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
