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
  MICRO("micro", false),
  /** The micro image on Debian's generic kernel, with its 9p modules: for 9p shares. */
  MICRO_GENERIC("micro-generic", true),
  /** Debian 12 with cloud-init, on the cloud kernel: no 9p. */
  DEBIAN("debian", false);

  private final String imageName;
  private final boolean mounts9p;

  BuiltInImage(String imageName, boolean mounts9p) {
    this.imageName = imageName;
    this.mounts9p = mounts9p;
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
