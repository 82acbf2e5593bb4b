package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * This host's real libcrypto through {@link NativeSha256} against the JDK's SHA-256, with and
 * without the TCG capability mask, and the fallback to the JDK's where the library is missing or
 * lacks the calls.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NativeSha256Test {
  private static final String LIBCRYPTO = "libcrypto.so.3";
  /** Around the 64-byte block, the 32 KiB native buffer and the agent's chunk. */
  private static final int[] SIZES = {0, 1, 55, 56, 63, 64, 65, GuestFiles.CHUNK, 32 * 1024, 32 * 1024 + 1, 100_003, 1 << 20};

  private static Supplier<MessageDigest> nativeDigests(boolean tcg) {
    assumeTrue(Files.exists(Path.of("/usr/lib/x86_64-linux-gnu", LIBCRYPTO)) || Files.exists(Path.of("/lib64", LIBCRYPTO)),
        "this host has no " + LIBCRYPTO + " to test against");
    Supplier<MessageDigest> digests = NativeSha256.digests(LIBCRYPTO, tcg);
    assertThat(digests.get()).as("the digest where libcrypto loads").isInstanceOf(NativeSha256.class);
    return digests;
  }

  @Test
  void libcrypto_givesTheJdksDigest_atEverySizeAndOffset() {
    assertSameAsJdk(nativeDigests(false));
  }

  @Test
  @Order(1) // the mask applies only where libcrypto loads: first
  void libcrypto_loadedUnderTheTcgMask_givesTheJdksDigest_andLeavesNoMaskInTheEnvironment() {
    assumeTrue(System.getenv("OPENSSL_ia32cap") == null, "OPENSSL_ia32cap is set for this test run");
    assumeTrue(!NativeSha256.boundAndMasked()[0], "an earlier test class in this JVM loaded libcrypto already, without the mask");
    Supplier<MessageDigest> digests = nativeDigests(true);
    assertThat(NativeSha256.boundAndMasked()[1]).as("libcrypto loaded under the TCG mask").isTrue();
    assertThat(NativeSha256.LibC.getenv("OPENSSL_ia32cap")).as("the C library's OPENSSL_ia32cap after the load").isNull();
    assertSameAsJdk(digests);
  }

  @Test
  void aDirectBuffer_isDigestedWhereItIs_fromItsPositionToItsLimit_likeTheJdks() throws Exception {
    MessageDigest d = nativeDigests(false).get();
    byte[] data = new byte[100_003];
    new java.util.Random(5).nextBytes(data);
    java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(data.length).put(data);
    direct.limit(data.length - 3).position(17);
    d.update(direct.slice(40, 1000)); // a slice: its own address
    d.update(direct);
    assertThat(direct.position()).as("consumed up to the limit").isEqualTo(data.length - 3);
    MessageDigest jdk = MessageDigest.getInstance("SHA-256");
    jdk.update(data, 40, 1000);
    jdk.update(data, 17, data.length - 3 - 17);
    assertThat(d.digest()).isEqualTo(jdk.digest());
  }

  @Test
  void digest_resetsForTheNextFile_likeTheJdks() throws Exception {
    MessageDigest d = nativeDigests(false).get();
    d.update(new byte[] {1, 2, 3});
    d.digest();
    d.update((byte) 7);
    assertThat(d.digest()).isEqualTo(MessageDigest.getInstance("SHA-256").digest(new byte[] {7}));
    d.update(new byte[] {9, 9});
    d.reset();
    assertThat(d.digest()).isEqualTo(MessageDigest.getInstance("SHA-256").digest());
    assertThat(d.getAlgorithm()).isEqualTo("SHA-256");
    assertThat(d.getDigestLength()).isEqualTo(32);
  }

  @Test
  void aMissingLibrary_fallsBackToTheJdk() {
    MessageDigest d = NativeSha256.digests("libvmlet-no-such-crypto.so.9", false).get();
    assertThat(d).isNotInstanceOf(NativeSha256.class);
    assertThat(d.getAlgorithm()).isEqualTo("SHA-256");
  }

  @Test
  void aLibraryWithoutTheCalls_fallsBackToTheJdk() {
    MessageDigest d = NativeSha256.digests("libc.so.6", false).get();
    assertThat(d).isNotInstanceOf(NativeSha256.class);
    assertThat(d.digest("abc".getBytes())).isEqualTo(NativeSha256.jdk().digest("abc".getBytes()));
  }

  private static void assertSameAsJdk(Supplier<MessageDigest> digests) {
    Random random = new Random(15);
    for (int size : SIZES) {
      byte[] data = new byte[size + 17];
      random.nextBytes(data);
      MessageDigest jdk = NativeSha256.jdk();
      jdk.update(data, 17, size);
      MessageDigest ours = digests.get();
      // In uneven pieces from an offset, as a transfer's chunks arrive.
      for (int off = 0; off < size; ) {
        int n = Math.min(size - off, 1 + random.nextInt(40_000));
        ours.update(data, 17 + off, n);
        off += n;
      }
      assertThat(ours.digest()).as("SHA-256 of %d bytes", size).isEqualTo(jdk.digest());
    }
  }
}
