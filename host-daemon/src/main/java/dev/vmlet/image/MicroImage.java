package dev.vmlet.image;

import dev.vmlet.spec.BootImage;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A built micro image: a kernel and an initramfs that holds busybox, the virtio modules, a jlink
 * runtime and the guest agent.
 *
 * @param kernel the bzImage ({@code vmlinuz})
 * @param elfKernel the same kernel as an ELF file ({@code vmlinux}, booted at its PVH entry), or null
 *     for an image built before images held one
 * @param agentSha256 SHA-256 of the agent jar inside, to tell when the image is stale
 */
public record MicroImage(Path kernel, Path initrd, Path elfKernel, String kernelVersion, String agentSha256,
    String builderVersion) {
  /** The ELF kernel's file name in an image directory, built or pulled. */
  public static final String ELF_KERNEL = "vmlinux";

  /** What QEMU boots: {@link BootImage#forPlatform} picks the kernel file. */
  public BootImage boot() {
    return new BootImage(kernel, initrd, elfKernel);
  }

  /** {@code dir/vmlinux} when the image in {@code dir} has one, else null. */
  public static Path elfKernelIn(Path dir) {
    Path f = dir.resolve(ELF_KERNEL);
    return Files.isRegularFile(f) ? f : null;
  }
}
