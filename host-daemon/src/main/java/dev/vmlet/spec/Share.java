package dev.vmlet.spec;

import java.nio.file.Path;

/**
 * A host directory shared into the VM and mounted in the guest at boot.
 *
 * @param hostPath the absolute host directory; whether it exists is checked on the host at create
 *     and start, not here (this record is plain data)
 * @param guestPath the absolute path the guest mounts it at; not "/", no "." or ".." parts, no
 *     spaces, commas or colons (it travels on the kernel command line and in fstab-like lists)
 * @param readOnly the guest mounts it read-only, and the host refuses writes too (virtiofsd sees a
 *     read-only bind of it; QEMU's 9p server is told readonly)
 * @param type "virtiofs" (the default: a virtiofsd per share, root daemon) or "9p" (QEMU's own 9p
 *     server, {@code security_model=mapped-xattr}; for guest kernels with 9p, which Debian's cloud
 *     kernel, and so the micro and debian images, lack)
 */
public record Share(String hostPath, String guestPath, boolean readOnly, String type) {
  public static final int MAX_GUEST_PATH = 200;
  public static final String VIRTIOFS = "virtiofs";
  public static final String NINE_P = "9p";

  /** A virtiofs share. */
  public Share(String hostPath, String guestPath, boolean readOnly) {
    this(hostPath, guestPath, readOnly, VIRTIOFS);
  }

  public Share {
    type = type == null || type.isEmpty() ? VIRTIOFS : type;
    if (!type.equals(VIRTIOFS) && !type.equals(NINE_P)) {
      throw VmException.invalid("shares: type must be virtiofs or 9p, got '" + type + "'");
    }
    if (hostPath == null || !hostPath.startsWith("/")) {
      throw VmException.invalid("shares: host path must be absolute, got '" + hostPath + "'");
    }
    if (hostPath.contains(",") || hostPath.contains("\n")) {
      // virtiofsd reads it from a -o list, which a comma would split.
      throw VmException.invalid("shares: host path '" + hostPath + "' must not contain a comma or newline; share a parent or rename it");
    }
    if (guestPath == null || !guestPath.startsWith("/")) {
      throw VmException.invalid("shares: guest path must be absolute (e.g. /mnt/work), got '" + guestPath + "'");
    }
    if (guestPath.length() > MAX_GUEST_PATH || !guestPath.matches("/[A-Za-z0-9._/+@-]*")) {
      throw VmException.invalid("shares: guest path '" + guestPath + "' may hold only letters, digits and . _ / + @ -,"
          + " at most " + MAX_GUEST_PATH + " characters");
    }
    String normal = Path.of(guestPath).normalize().toString();
    if (!normal.equals(guestPath.length() > 1 && guestPath.endsWith("/") ? guestPath.substring(0, guestPath.length() - 1) : guestPath)
        || normal.equals("/")) {
      throw VmException.invalid("shares: guest path '" + guestPath + "' must be a plain absolute directory other than /"
          + " (no '.', '..' or '//' parts)");
    }
    guestPath = normal;
  }

  public boolean ninep() {
    return type.equals(NINE_P);
  }

  /** The mount tag of the share at {@code index} in the config (at most 36 bytes in QEMU). */
  public static String tag(int index) {
    return "vmlet" + index;
  }
}
