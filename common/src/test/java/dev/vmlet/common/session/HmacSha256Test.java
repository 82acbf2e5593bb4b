package dev.vmlet.common.session;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class HmacSha256Test {
  private static String hex(byte[] b) {
    return HexFormat.of().formatHex(b);
  }

  @Test
  void sha256_ofTheFips180Examples_isTheirDigest() {
    assertThat(hex(HmacSha256.sha256("abc".getBytes(StandardCharsets.US_ASCII))))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assertThat(hex(HmacSha256.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".getBytes(StandardCharsets.US_ASCII))))
        .isEqualTo("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assertThat(hex(HmacSha256.sha256())).isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  }

  @Test
  void mac_ofRfc4231Case6_aKeyLongerThanABlock_isItsHmac() {
    byte[] key = new byte[131];
    Arrays.fill(key, (byte) 0xaa);
    byte[] data = "Test Using Larger Than Block-Size Key - Hash Key First".getBytes(StandardCharsets.US_ASCII);
    assertThat(hex(HmacSha256.mac(key, data))).isEqualTo("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  }

  @Test
  void sha256AndMac_ofEveryLengthAroundTheBlockEdges_matchTheJca() throws Exception {
    Random random = new Random(15);
    for (int length = 0; length <= 200; length++) {
      byte[] data = new byte[length];
      random.nextBytes(data);
      byte[] key = new byte[1 + random.nextInt(100)];
      random.nextBytes(key);
      Mac jca = Mac.getInstance("HmacSHA256");
      jca.init(new SecretKeySpec(key, "HmacSHA256"));
      int split = length / 3;

      assertThat(HmacSha256.sha256(data)).as("sha256 of %d bytes", length).isEqualTo(MessageDigest.getInstance("SHA-256").digest(data));
      assertThat(HmacSha256.mac(key, Arrays.copyOf(data, split), Arrays.copyOfRange(data, split, length)))
          .as("hmac of %d bytes with a %d-byte key", length, key.length).isEqualTo(jca.doFinal(data));
    }
  }
}
