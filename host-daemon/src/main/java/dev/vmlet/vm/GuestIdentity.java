package dev.vmlet.vm;

import dev.vmlet.qemu.QemuCommandBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The identity file a VM's guest reads through fw_cfg (the agent's {@code VmIdentity}): instance
 * id, hostname, MAC and 32 fresh random bytes, as {@code key=value} lines padded with newlines to
 * {@link #SIZE} bytes. The size is fixed because the guest kernel learns each fw_cfg entry's size
 * once, at boot: a clone resumed from a template reads its own identity through the template's entry.
 */
final class GuestIdentity {
  static final int SIZE = 512;
  private static final SecureRandom RANDOM = new SecureRandom();

  private GuestIdentity() {}

  /** Writes (replaces) the file, 0600, for a start of the VM's QEMU. */
  static void write(Path file, String instanceId, String hostname) throws IOException {
    byte[] seed = new byte[32];
    RANDOM.nextBytes(seed);
    byte[] body = render(instanceId, hostname, seed).getBytes(StandardCharsets.UTF_8);
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.write(tmp, body);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The file's text, exactly {@link #SIZE} bytes. */
  static String render(String instanceId, String hostname, byte[] seed) {
    String text = "instance_id=" + instanceId + "\nhostname=" + hostname + "\nmac=" + QemuCommandBuilder.mac(instanceId)
        + "\nseed=" + HexFormat.of().formatHex(seed) + "\n";
    if (text.length() > SIZE) {
      throw new IllegalArgumentException("identity of " + text.length() + " bytes, more than " + SIZE);
    }
    char[] pad = new char[SIZE - text.length()];
    Arrays.fill(pad, '\n');
    return text + new String(pad);
  }
}
