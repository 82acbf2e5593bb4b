package dev.vmlet.guest;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.ProviderException;
import java.util.List;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * SHA-256 by the guest's libcrypto (OpenSSL), as a {@link MessageDigest}, with the JDK's own as
 * the fallback where libcrypto is missing (the micro image) or does not load. Every byte of a
 * push and of a pull goes through SHA-256 (the end-to-end check). Under TCG libcrypto's plain
 * x86-64 code hashed 41 MB/s in a Debian guest against 33 MB/s for the JDK's Java code compiled by
 * C2, and it needs no JIT warm-up after the agent starts: a pull used 37 % less guest CPU per MiB
 * with it (docs/benchmarks.md, "Issue 15, transfers: SHA-256 by the guest's libcrypto").
 *
 * <p>Under TCG libcrypto's choice of code by the CPU's flags is wrong: QEMU emulates each vector
 * instruction (AVX2, the SHA extensions) one by one, so the code a real CPU runs fastest is slow
 * there. With {@code tcg}, {@code OPENSSL_ia32cap} is set to {@link #TCG_MASK} in this process's
 * environment just while libcrypto loads (it reads it once, from its {@code .init}, and OpenSSL 3
 * exports no call to change it later), unless the agent was started with one of its own. Only the
 * C library's environment changes: the JDK keeps the one it was started with, which is what the
 * programs the agent starts get, so they never see it.
 *
 * <p>Bound with JNA's direct mapping, as {@link PosixSpawn}: a transfer makes a call per 32 KiB
 * chunk. The low-level {@code SHA256_*} calls (deprecated in OpenSSL 3, still exported) keep the
 * context in memory this class owns, which JNA frees with the digest: no native allocation to
 * free by hand, no provider lookup per digest.
 */
final class NativeSha256 extends MessageDigest {
  /** sizeof(SHA256_CTX) is 112 on LP64; some room to spare. */
  private static final int CTX_SIZE = 128;
  private static final int LENGTH = 32;
  /** Bytes copied into native memory per SHA256_Update: a transfer's chunk fits in one. */
  private static final int BUFFER = 32 * 1024;

  /**
   * OPENSSL_ia32cap's mask under TCG: of CPUID 1's ECX (the first number's high half) bit 9 SSSE3
   * and bit 28 AVX; of CPUID 7's EBX (the second's low half) bits 3 BMI1, 5 AVX2, 8 BMI2, 29 SHA.
   * What is left is the plain x86-64 integer code, the fastest under TCG of those measured.
   */
  static final String TCG_MASK = "~0x1000020000000000:~0x20000128";
  private static final String CAP_ENV = "OPENSSL_ia32cap";

  /** The libcrypto functions used, registered once by {@link #load}. */
  static final class Crypto {
    private Crypto() {}

    static native int SHA256_Init(Pointer ctx);

    static native int SHA256_Update(Pointer ctx, Pointer data, long len);

    static native int SHA256_Final(byte[] md, Pointer ctx);
  }

  /** The C library's environment, which libcrypto reads (not the JDK's copy of it). */
  static final class LibC {
    static {
      Native.register(LibC.class, NativeLibrary.getInstance("c")); // at first use
    }

    private LibC() {}

    static native int setenv(String name, String value, int overwrite);

    static native int unsetenv(String name);

    static native String getenv(String name);
  }

  /** The library {@link Crypto} is bound to, null before; guarded by the class. */
  private static String boundTo;
  /** Whether libcrypto was loaded under {@link #TCG_MASK}. */
  private static volatile boolean masked;

  private final Memory ctx = new Memory(CTX_SIZE);
  private final Memory in = new Memory(BUFFER);

  private NativeSha256() {
    super("SHA-256");
    engineReset();
  }

  /** Whether libcrypto is bound already (tests: a mask applies only when it loads), and under the mask. */
  static synchronized boolean[] boundAndMasked() {
    return new boolean[] {boundTo != null, masked};
  }

  /**
   * Where SHA-256 digests come from: libcrypto's when {@code library} loads and has the calls
   * (with the capability mask under {@code tcg}), else the JDK's. Logs which, once per call.
   */
  static Supplier<MessageDigest> digests(String library, boolean tcg) {
    Logger log = Logger.getLogger(NativeSha256.class.getName());
    String why = load(library, tcg);
    if (why == null) {
      log.info("transfers: SHA-256 by " + library + (masked ? " (TCG: loaded with " + CAP_ENV + "=" + TCG_MASK + ")" : ""));
      return NativeSha256::new;
    }
    log.info("transfers: SHA-256 by the JDK (" + why.lines().findFirst().orElse(why) + ")");
    return NativeSha256::jdk;
  }

  /**
   * Binds {@link Crypto} to {@code library} once, loading it under TCG's capability mask with
   * {@code tcg}; null when it is usable, else why not.
   */
  private static synchronized String load(String library, boolean tcg) {
    if (!System.getProperty("os.name", "").equals("Linux") || Native.SIZE_T_SIZE != 8) {
      return "not 64-bit Linux";
    }
    boolean first = boundTo == null;
    boolean mask = first && tcg && System.getProperty("os.arch", "").equals("amd64") && System.getenv(CAP_ENV) == null;
    try {
      if (mask) {
        LibC.setenv(CAP_ENV, TCG_MASK, 1);
      }
      NativeLibrary lib;
      try {
        lib = NativeLibrary.getInstance(library);
      } finally {
        if (mask) {
          LibC.unsetenv(CAP_ENV);
        }
      }
      for (String f : List.of("SHA256_Init", "SHA256_Update", "SHA256_Final")) {
        lib.getFunction(f); // throws when the library lacks it
      }
      if (!first) {
        // JNA binds a class's natives once: a second caller (tests) gets the first binding only.
        return boundTo.equals(library) ? null : "libcrypto is bound to " + boundTo + " already";
      }
      Native.register(Crypto.class, lib);
    } catch (LinkageError | RuntimeException e) {
      return library + " does not load: " + e.getMessage();
    }
    boundTo = library;
    masked = mask;
    return null;
  }

  /** The JDK's SHA-256, which every JDK has. */
  static MessageDigest jdk() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  protected void engineUpdate(byte input) {
    engineUpdate(new byte[] {input}, 0, 1);
  }

  @Override
  protected void engineUpdate(byte[] input, int offset, int len) {
    while (len > 0) {
      int n = Math.min(len, BUFFER);
      in.write(0, input, offset, n);
      check(Crypto.SHA256_Update(ctx, in, n), "SHA256_Update");
      offset += n;
      len -= n;
    }
  }

  /** A direct buffer is read where it is (a push's O_DIRECT buffer): no copy into {@link #in}. */
  @Override
  protected void engineUpdate(ByteBuffer input) {
    if (!input.isDirect()) {
      super.engineUpdate(input);
      return;
    }
    int n = input.remaining();
    if (n > 0) {
      check(Crypto.SHA256_Update(ctx, Native.getDirectBufferPointer(input).share(input.position()), n), "SHA256_Update");
      input.position(input.limit());
    }
  }

  @Override
  protected byte[] engineDigest() {
    byte[] md = new byte[LENGTH];
    check(Crypto.SHA256_Final(md, ctx), "SHA256_Final");
    engineReset();
    return md;
  }

  @Override
  protected void engineReset() {
    check(Crypto.SHA256_Init(ctx), "SHA256_Init");
  }

  @Override
  protected int engineGetDigestLength() {
    return LENGTH;
  }

  private static void check(int rc, String call) {
    if (rc != 1) {
      throw new ProviderException("libcrypto's " + call + " failed");
    }
  }
}
