package dev.vmlet.qemu;

import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * UEFI firmware (OVMF): the read-only code and the template of the variable store, found where
 * distributions install them.
 *
 * @param secureBoot the code enforces Secure Boot (it needs SMM, {@code smm=on}, and a flash that
 *     only SMM may write) and the template has Microsoft's keys enrolled, as Windows expects
 */
public record Firmware(Path code, Path varsTemplate, boolean secureBoot) {
  private static final List<Firmware> KNOWN = List.of(
      new Firmware(Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"), Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd")),
      new Firmware(Path.of("/usr/share/OVMF/OVMF_CODE.fd"), Path.of("/usr/share/OVMF/OVMF_VARS.fd")),
      new Firmware(Path.of("/usr/share/edk2/ovmf/OVMF_CODE.fd"), Path.of("/usr/share/edk2/ovmf/OVMF_VARS.fd")),
      new Firmware(Path.of("/usr/share/edk2/x64/OVMF_CODE.fd"), Path.of("/usr/share/edk2/x64/OVMF_VARS.fd")));
  /** Debian's ovmf: the Secure Boot build and variables with Microsoft's keys (Fedora's names after). */
  private static final List<Firmware> SECURE = List.of(
      new Firmware(Path.of("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"), Path.of("/usr/share/OVMF/OVMF_VARS_4M.ms.fd"), true),
      new Firmware(Path.of("/usr/share/OVMF/OVMF_CODE.secboot.fd"), Path.of("/usr/share/OVMF/OVMF_VARS.ms.fd"), true),
      new Firmware(Path.of("/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd"), Path.of("/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd"), true));

  public Firmware(Path code, Path varsTemplate) {
    this(code, varsTemplate, false);
  }

  /**
   * @throws VmException FAILED_PRECONDITION with the install command when none is found
   */
  public static Firmware find() {
    return first(KNOWN, "UEFI firmware (OVMF)");
  }

  /**
   * The Secure Boot build, for Windows guests.
   *
   * @throws VmException FAILED_PRECONDITION with the install command when none is found
   */
  public static Firmware findSecureBoot() {
    return first(SECURE, "UEFI firmware with Secure Boot (OVMF_CODE*.secboot.fd and Microsoft's keys, OVMF_VARS*.ms.fd)");
  }

  private static Firmware first(List<Firmware> candidates, String what) {
    for (Firmware f : candidates) {
      if (Files.isReadable(f.code()) && Files.isReadable(f.varsTemplate())) {
        return f;
      }
    }
    throw new VmException(VmException.Kind.FAILED_PRECONDITION,
        what + " not found; install it: apt-get install ovmf (dnf install edk2-ovmf, pacman -S edk2-ovmf)");
  }
}
