package dev.vmlet.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Consumer;

/** The micro image: built by {@link ImageBuilder} from {@link ImageBuilder#MICRO}. */
public final class MicroImageBuilder {
  private MicroImageBuilder() {}

  /** The image in {@code imageDir}, if one was built completely. */
  public static Optional<MicroImage> load(Path imageDir) {
    return ImageBuilder.load(ImageBuilder.MICRO, imageDir).map(p -> image(imageDir, p));
  }

  /** Returns the image, building it first when it is missing or stale. */
  public static MicroImage build(Path agentJar, Path imageDir, Consumer<String> progress) throws IOException {
    if (!Files.isRegularFile(agentJar)) {
      throw new IOException("the agent jar " + agentJar + " does not exist");
    }
    return image(imageDir, ImageBuilder.build(ImageBuilder.MICRO, agentJar, imageDir, progress));
  }

  private static MicroImage image(Path dir, Properties p) {
    return new MicroImage(dir.resolve("vmlinuz"), dir.resolve("initrd.img"), p.getProperty("kernel.version", ""),
        p.getProperty("agent.sha256", ""), p.getProperty("builder.sha256", ""));
  }
}
