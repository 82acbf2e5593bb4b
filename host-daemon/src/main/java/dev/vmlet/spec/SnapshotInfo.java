package dev.vmlet.spec;

/** One internal snapshot as qemu-img reports it. */
public record SnapshotInfo(String name, long createdAtMs, long vmStateBytes) {}
