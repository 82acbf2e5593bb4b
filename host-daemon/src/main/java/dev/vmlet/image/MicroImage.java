package dev.vmlet.image;

import java.nio.file.Path;

/**
 * A built micro image: a kernel and an initramfs that holds busybox, the virtio modules, a jlink
 * runtime and the guest agent.
 *
 * @param agentSha256 SHA-256 of the agent jar inside, to tell when the image is stale
 */
public record MicroImage(Path kernel, Path initrd, String kernelVersion, String agentSha256, String builderVersion) {}
