package dev.vmlet.image;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.ImageResolver;
import dev.vmlet.spec.VmException;
import dev.vmlet.spec.OciReference;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.logging.Logger;

/** Finds the images built into the cache (micro, micro-generic, debian and the agent bundle) and those from a registry ({@code oci://}). */
public final class MicroImageResolver implements ImageResolver {
  private static final Logger LOG = Logger.getLogger(MicroImageResolver.class.getName());
  private final VmletPaths paths;

  public MicroImageResolver(VmletPaths paths) {
    this.paths = paths;
  }

  @Override
  public BootImage resolve(String image) {
    if (OciReference.isOci(image)) {
      return oci(image);
    }
    ImageBuilder.Recipe recipe = image.equals("micro") ? ImageBuilder.MICRO
        : image.equals("micro-generic") ? ImageBuilder.MICRO_GENERIC : null;
    if (recipe == null) {
      throw VmException.invalid("unknown image '" + image + "'; this version boots 'micro', 'micro-generic' or"
          + " oci://REGISTRY/REPOSITORY:TAG");
    }
    Path dir = paths.imageDir(image);
    MicroImage m = MicroImageBuilder.load(recipe, dir).orElseThrow(() -> new VmException(VmException.Kind.FAILED_PRECONDITION,
        "the " + image + " image is not built in " + dir + "; run: vmlet image build " + image));
    return m.boot();
  }

  /**
   * The kernel and initramfs of an image from a registry: the cached one when the tag (or digest)
   * was pulled before, else pulled now, with the daemon's {@code VMLET_REGISTRY_*} credentials.
   */
  private BootImage oci(String image) {
    OciReference ref;
    try {
      ref = OciReference.parse(image);
    } catch (IllegalArgumentException e) {
      throw VmException.invalid("image " + image + ": " + e.getMessage());
    }
    OciImages store = new OciImages(paths.cacheDir(), line -> LOG.info(() -> "pull " + ref + ": " + line));
    Path dir;
    try {
      Optional<Path> cached = store.cached(ref);
      dir = cached.isPresent() ? cached.get() : store.pull(ref, RegistryClient.Options.fromEnvironment(false)).dir();
    } catch (IllegalArgumentException e) {
      throw VmException.invalid("image " + image + ": " + e.getMessage());
    } catch (IOException e) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "image " + image + ": " + e.getMessage()
          + " (a private image can be pulled first into the daemon's cache: vmlet image pull " + ref + " --username ...)", e);
    }
    Path kernel = dir.resolve("vmlinuz");
    Path initrd = dir.resolve("initrd.img");
    if (!Files.isRegularFile(kernel) || !Files.isRegularFile(initrd)) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "image " + image
          + " holds no vmlinuz and initrd.img; only kernel + initramfs images (like micro) boot from a registry");
    }
    return new BootImage(kernel, initrd, MicroImage.elfKernelIn(dir)); // a vmlinux when the pushed image had one
  }

  @Override
  public Path debian() {
    Path dir = paths.imageDir("debian");
    ImageBuilder.load(ImageBuilder.DEBIAN, dir).orElseThrow(() -> new VmException(VmException.Kind.FAILED_PRECONDITION,
        "the debian image is not built in " + dir + "; run: vmlet image build debian (as root, about 2 minutes)"));
    return dir;
  }

  @Override
  public Path agentBundle() {
    Path dir = paths.imageDir("agent-bundle");
    ImageBuilder.load(ImageBuilder.AGENT_BUNDLE, dir).orElseThrow(() -> new VmException(VmException.Kind.FAILED_PRECONDITION,
        "the agent bundle is not built in " + dir + "; run: vmlet image build agent-bundle"));
    return dir.resolve("agent-bundle.iso");
  }
}
