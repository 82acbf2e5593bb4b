package dev.vmlet.spec;

import java.util.Arrays;
import java.util.Optional;

/**
 * The images vmlet builds into its cache and boots by name ({@code vmlet image build NAME}), and
 * whether their kernel can mount a 9p share. One list, so the config's checks, the image commands
 * and the docs name the same images.
 */
public enum BuiltInImage {
  /** Kernel + initramfs on Debian's cloud kernel: the fastest boot; no 9p (CONFIG_NET_9P unset). */
  MICRO("micro", false, 256),
  /** The micro image on Debian's generic kernel, with its 9p modules: for 9p shares. */
  MICRO_GENERIC("micro-generic", true, 256),
  /** Debian 12 with cloud-init, on the cloud kernel: no 9p. */
  DEBIAN("debian", false, VmConfig.MIN_MEMORY_MIB);

  private final String imageName;
  private final boolean mounts9p;
  private final long minMemoryMib;

  BuiltInImage(String imageName, boolean mounts9p, long minMemoryMib) {
    this.imageName = imageName;
    this.mounts9p = mounts9p;
    this.minMemoryMib = minMemoryMib;
  }

  /**
   * The least memory the image boots in. The micro images' kernel unpacks their uncompressed
   * initramfs (about 64 MB) into the guest's memory, where the agent's JVM then runs: at 224 MiB
   * files of it were missing (the JVM's libjli.so), at 256 MiB the agent started.
   */
  public long minMemoryMib() {
    return minMemoryMib;
  }

  /** The name a VM spec and the image commands use. */
  public String imageName() {
    return imageName;
  }

  /** Whether the image's kernel has 9p and its init (or cloud-init) mounts 9p shares. */
  public boolean mounts9p() {
    return mounts9p;
  }

  /** The image of this name, if vmlet builds one. */
  public static Optional<BuiltInImage> named(String name) {
    return Arrays.stream(values()).filter(b -> b.imageName.equals(name)).findFirst();
  }
}
