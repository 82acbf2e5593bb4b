package dev.vmlet.bench;

import java.security.MessageDigest;
import java.util.zip.CRC32C;

/**
 * Runs inside a guest, on the agent's own jlink runtime (java.base only), started by {@link
 * AgentTurns#digestAlone}: how fast that JVM, with the flags it is given, computes SHA-256 and
 * CRC32C over 32 KiB chunks, the two sums every byte of a transfer goes through in the agent. Prints
 * one line per sum: {@code NAME MB/s}. Arguments: MiB to warm up with (the JIT compiles the loop
 * meanwhile), MiB to time.
 */
public final class GuestDigestProbe {
  private GuestDigestProbe() {}

  public static void main(String[] args) throws Exception {
    int warmMib = Integer.parseInt(args[0]);
    int timedMib = Integer.parseInt(args[1]);
    byte[] chunk = new byte[32 * 1024];
    new java.util.Random(7).nextBytes(chunk);
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    sha(sha, chunk, warmMib);
    long t0 = System.nanoTime();
    sha(sha, chunk, timedMib);
    System.out.printf("sha256 %.1f%n", timedMib * 1048576 / 1e6 / ((System.nanoTime() - t0) / 1e9));
    CRC32C crc = new CRC32C();
    crc(crc, chunk, warmMib);
    t0 = System.nanoTime();
    crc(crc, chunk, timedMib);
    System.out.printf("crc32c %.1f%n", timedMib * 1048576 / 1e6 / ((System.nanoTime() - t0) / 1e9));
  }

  private static void sha(MessageDigest d, byte[] chunk, int mib) {
    for (int i = 0; i < mib * 32; i++) {
      d.update(chunk, 0, chunk.length);
    }
    d.digest();
  }

  private static void crc(CRC32C c, byte[] chunk, int mib) {
    for (int i = 0; i < mib * 32; i++) {
      c.update(chunk, 0, chunk.length);
    }
  }
}
