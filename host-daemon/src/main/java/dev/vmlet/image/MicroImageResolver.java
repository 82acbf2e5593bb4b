package dev.vmlet.image;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.ImageResolver;
import dev.vmlet.spec.VmException;
import java.nio.file.Path;

/** Finds the images built into the cache: micro, debian and the agent bundle. */
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
