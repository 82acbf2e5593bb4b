package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.MicroImage;
import dev.vmlet.image.MicroImageBuilder;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "image", mixinStandardHelpOptions = true, description = "Build VM images into the cache.",
    subcommands = ImageCommand.Build.class)
final class ImageCommand implements Runnable {
  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  @Command(name = "build", mixinStandardHelpOptions = true,
      description = {"Build an image from Debian packages. Images: micro (kernel + initramfs with busybox,",
          "a jlink runtime and the agent). A no-op when the image is up to date with the agent jar."})
  static final class Build implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE", description = "micro")
    String image;

    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Image cache (default /var/cache/vmlet as root, else $XDG_CACHE_HOME/vmlet).")
    Path cacheDir;

    @Override
    public Integer call() throws Exception {
      if (!image.equals("micro")) {
        throw new CliException("unknown image '" + image + "'; this version builds: micro", 2);
      }
      VmletPaths paths = VmletPaths.fromEnvironment();
      if (cacheDir != null) {
        paths = paths.withCacheDir(cacheDir);
      }
      MicroImage m = buildMicro(paths);
      System.out.println("micro image ready in " + m.kernel().getParent());
      return 0;
    }
  }

  /** Builds (or finds up to date) the micro image, printing progress lines. */
  static MicroImage buildMicro(VmletPaths paths) throws Exception {
    return MicroImageBuilder.build(AgentJar.locate(), paths.imageDir("micro"), line -> System.out.println("  " + line));
  }
}
