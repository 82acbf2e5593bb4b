package dev.vmlet.qemu;

import java.nio.file.Path;

/** A disk as QEMU gets it: its name (the guest-visible serial) and its qcow2 file. */
public record AttachedDisk(String name, Path file) {}
