package dev.vmlet.vm;

import java.nio.file.Path;

/** The kernel and initramfs a VM boots directly. */
public record BootImage(Path kernel, Path initrd) {}
