package dev.vmlet.qemu;

import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * UEFI firmware (OVMF): the read-only code and the template of the variable store, found where
 * distributions install them.
 */
public record Firmware(Path code, Path varsTemplate) {
  private static final List<Firmware> KNOWN = List.of(
      new Firmware(Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"), Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd")),
      new Firmware(Path.of("/usr/share/OVMF/OVMF_CODE.fd"), Path.of("/usr/share/OVMF/OVMF_VARS.fd")),
      new Firmware(Path.of("/usr/share/edk2/ovmf/OVMF_CODE.fd"), Path.of("/usr/share/edk2/ovmf/OVMF_VARS.fd")),
      new Firmware(Path.of("/usr/share/edk2/x64/OVMF_CODE.fd"), Path.of("/usr/share/edk2/x64/OVMF_VARS.fd")));

  /**
   * @throws VmException FAILED_PRECONDITION with the install command when none is found
   */
  public static Firmware find() {
    for (Firmware f : KNOWN) {
      if (Files.isReadable(f.code()) && Files.isReadable(f.varsTemplate())) {
        return f;
      }
    }
    throw new VmException(VmException.Kind.FAILED_PRECONDITION,
        "UEFI firmware (OVMF) not found; install it: apt-get install ovmf (dnf install edk2-ovmf, pacman -S edk2-ovmf)");
  }
}
