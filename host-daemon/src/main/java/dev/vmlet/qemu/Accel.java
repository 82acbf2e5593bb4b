package dev.vmlet.qemu;

/**
 * The accelerator a VM runs with, and why it was chosen.
 *
 * @param name "kvm" or "tcg"
 * @param reason one line for {@code vmlet info}
 */
public record Accel(String name, String reason) {}
