package dev.vmlet.spec;

/**
 * A kernel the user brings, booted directly by QEMU (no boot loader), validated on construction.
 * vmlet appends its own parameters (vmlet.instance_id, vmlet.hostname) to the command line, so an
 * agent inside can phone home.
 *
 * @param kernel absolute path of the kernel image (bzImage or vmlinuz)
 * @param initrd absolute path of an initramfs, or "" for none
 * @param cmdline the kernel command line, one line of at most {@link #MAX_CMDLINE} characters
 */
public record DirectBoot(String kernel, String initrd, String cmdline) {
  public static final int MAX_CMDLINE = 2048;

  public DirectBoot {
    initrd = initrd == null ? "" : initrd;
    cmdline = cmdline == null ? "" : cmdline;
    if (kernel == null || !kernel.startsWith("/")) {
      throw VmException.invalid("kernel.path must be an absolute path, got '" + kernel + "'");
    }
    if (!initrd.isEmpty() && !initrd.startsWith("/")) {
      throw VmException.invalid("kernel.initrd must be an absolute path, got '" + initrd + "'");
    }
    if (cmdline.length() > MAX_CMDLINE || cmdline.chars().anyMatch(c -> c < 0x20)) {
      throw VmException.invalid("kernel.cmdline must be one line of at most " + MAX_CMDLINE
          + " printable characters, got " + cmdline.length());
    }
    if (cmdline.contains("vmlet.")) {
      throw VmException.invalid("kernel.cmdline must not set vmlet.* parameters: vmlet adds them itself");
    }
  }
}
