package dev.vmlet.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * The micro image: built by {@link ImageBuilder} from {@link ImageBuilder#MICRO}, or from
 * {@link ImageBuilder#MICRO_GENERIC} (the same on Debian's generic kernel).
 */
public final class MicroImageBuilder {
  private MicroImageBuilder() {}

  /** The image in {@code imageDir}, if one was built completely. */
  public static Optional<MicroImage> load(Path imageDir) {
    return load(ImageBuilder.MICRO, imageDir);
  }

  /** The image of {@code recipe} (micro or micro-generic) in {@code imageDir}, if one was built completely. */
  public static Optional<MicroImage> load(ImageBuilder.Recipe recipe, Path imageDir) {
    return ImageBuilder.load(recipe, imageDir).map(p -> image(imageDir, p));
  }

  /** Returns the image, building it first when it is missing or stale. */
  public static MicroImage build(Path agentJar, Path imageDir, Consumer<String> progress) throws IOException {
    return build(ImageBuilder.MICRO, agentJar, imageDir, progress);
  }

  /** As {@link #build(Path, Path, Consumer)} for {@code recipe}: micro or micro-generic. */
  public static MicroImage build(ImageBuilder.Recipe recipe, Path agentJar, Path imageDir, Consumer<String> progress)
      throws IOException {
    if (!Files.isRegularFile(agentJar)) {
      throw new IOException("the agent jar " + agentJar + " does not exist");
    }
    return image(imageDir, ImageBuilder.build(recipe, agentJar, imageDir, progress));
  }

  private static MicroImage image(Path dir, Properties p) {
    return new MicroImage(dir.resolve("vmlinuz"), dir.resolve("initrd.img"), MicroImage.elfKernelIn(dir),
        p.getProperty("kernel.version", ""),
        p.getProperty("agent.sha256", ""), p.getProperty("builder.sha256", ""));
  }
}
