package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.StreamError;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.function.Supplier;

/**
 * What pushes, pulls and listings share: guest paths (absolute only), owners, digests, and a
 * failure as the StreamError whose code the host maps to a status.
 */
final class GuestFiles {
  /**
   * The most data the agent puts in one frame: a frame with its header and protobuf envelope
   * (under 64 bytes) then fits the 32 KiB that Linux's virtio-serial port takes per write(2)
   * (virtio_console's port_fops_write). A 32 KiB chunk made each frame two writes, the second of
   * a few dozen bytes, each a trip through the guest kernel, a virtqueue kick and QEMU.
   */
  static final int CHUNK = 32 * 1024 - 64;

  /**
   * Whether the guest runs under TCG ({@code -Dvmlet.agent.tcg=true}, from the bundle's
   * agent-tcg-flags.sh): SHA-256 then takes libcrypto's plain integer code, and pushes O_DIRECT.
   */
  static final boolean TCG = Boolean.getBoolean("vmlet.agent.tcg");

  private GuestFiles() {}

  /** The normalized path; a relative one is refused, since the agent's working directory means nothing to the host. */
  static Path absolute(String path) {
    Path p = Path.of(path);
    if (!p.isAbsolute()) {
      throw new IllegalArgumentException("the guest path must be absolute, got '" + path + "'");
    }
    return p.normalize();
  }

  /** uid and gid of a file, 0 where the file system has none. */
  static int[] owner(Path p) {
    try {
      return new int[] {(Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS),
          (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS)};
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return new int[] {0, 0};
    }
  }

  /** The StreamError that ends a transfer that failed with {@code e}. */
  static Frame error(int stream, Exception e) {
    StreamError.Code code = e instanceof NoSuchFileException ? StreamError.Code.NOT_FOUND
        : e instanceof AccessDeniedException ? StreamError.Code.PERMISSION_DENIED
        : e instanceof IllegalArgumentException ? StreamError.Code.INVALID_ARGUMENT
        : StreamError.Code.FAILED_PRECONDITION;
    return Frame.newBuilder().setStreamId(stream).setError(StreamError.newBuilder().setCode(code).setMessage(describe(e))).build();
  }

  private static String describe(Exception e) {
    if (e instanceof NoSuchFileException n) {
      return n.getFile() + (n.getReason() == null ? " does not exist" : ": " + n.getReason());
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied: " + e.getMessage();
    }
    return e.getMessage() == null ? e.toString() : e.getMessage();
  }

  /** A new SHA-256 digest: the guest's libcrypto's where it has one, else the JDK's ({@link NativeSha256}). */
  static MessageDigest sha256() {
    return Sha256Source.DIGESTS.get();
  }

  /**
   * Chosen at the first digest, not at the agent's start: loading libcrypto costs time under TCG,
   * and an agent that moves no file need not pay it. {@code vmlet.agent.crypto} names another
   * library (tests).
   */
  private static final class Sha256Source {
    static final Supplier<MessageDigest> DIGESTS = NativeSha256.digests(System.getProperty("vmlet.agent.crypto", "libcrypto.so.3"), TCG);
  }
}
