package dev.vmlet.image;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.vm.BootImage;
import dev.vmlet.vm.ImageResolver;
import dev.vmlet.vm.VmException;

/** Resolves "micro" to the built micro image in the cache; anything else is refused. */
public final class MicroImageResolver implements ImageResolver {
  private final VmletPaths paths;

  public MicroImageResolver(VmletPaths paths) {
    this.paths = paths;
  }

  @Override
  public BootImage resolve(String image) {
    if (!image.equals("micro")) {
      throw VmException.invalid("unknown image '" + image + "'; this version boots only 'micro'");
    }
    MicroImage m = MicroImageBuilder.load(paths.imageDir("micro"))
        .orElseThrow(() -> new VmException(VmException.Kind.FAILED_PRECONDITION,
            "the micro image is not built in " + paths.imageDir("micro") + "; run: vmlet image build micro"));
    return new BootImage(m.kernel(), m.initrd());
  }
}
