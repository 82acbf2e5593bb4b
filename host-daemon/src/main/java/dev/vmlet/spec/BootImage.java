package dev.vmlet.spec;

import java.nio.file.Path;

/**
 * A kernel QEMU boots directly.
 *
 * @param kernel the kernel image (a bzImage for the built images; any kernel file QEMU takes)
 * @param initrd the initramfs, or null for none
 * @param elfKernel the same kernel as an ELF file with a PVH entry ({@code vmlinux}), or null when
 *     the image has none (built before images held one, or a user's kernel)
 */
public record BootImage(Path kernel, Path initrd, Path elfKernel) {
  public BootImage(Path kernel, Path initrd) {
    this(kernel, initrd, null);
  }

  /**
   * What QEMU is given for {@code platform}: the ELF kernel where there is one and the firmware is
   * SeaBIOS or qboot (QEMU loads it itself and enters it at its PVH entry, so the bzImage's
   * decompressor never runs: 0.8-1.4 s of a micro boot under TCG); the bzImage under UEFI, as OVMF
   * loads no ELF kernel, and with a TPM (see below).
   */
  public BootImage forPlatform(Platform platform) {
    if (elfKernel == null) {
      return this;
    }
    // UEFI: OVMF loads no ELF kernel. A TPM: under SeaBIOS with a TPM, a kernel entered at its PVH
    // entry found no TPM2 table and no fw_cfg device in ACPI (QEMU 7.2, by hand), so the agent could
    // not read its token; the bzImage boots such a VM as before.
    return new BootImage(platform.firmware().equals("uefi") || platform.tpm() ? kernel : elfKernel, initrd);
  }
}
