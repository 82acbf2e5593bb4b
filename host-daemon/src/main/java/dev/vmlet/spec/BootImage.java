package dev.vmlet.spec;

import java.nio.file.Path;

/**
 * A kernel QEMU boots directly.
 *
 * @param kernel the kernel image
 * @param initrd the initramfs, or null for none
 */
public record BootImage(Path kernel, Path initrd) {}
