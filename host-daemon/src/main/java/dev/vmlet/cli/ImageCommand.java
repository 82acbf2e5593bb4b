package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.image.MicroImage;
import dev.vmlet.image.MicroImageBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import dev.vmlet.fs.FileTrees;

@Command(name = "image", mixinStandardHelpOptions = true, description = "Build, list and remove VM images in the cache.",
    subcommands = {ImageCommand.Build.class, ImageCommand.ListImages.class, ImageCommand.Remove.class})
final class ImageCommand implements Runnable {
  static final List<ImageBuilder.Recipe> RECIPES = List.of(ImageBuilder.MICRO, ImageBuilder.DEBIAN, ImageBuilder.AGENT_BUNDLE);

  @Override
  public void run() {
    new picocli.CommandLine(this).usage(System.out);
  }

  /** The --cache-dir option shared by the image commands. */
  static final class CacheOption {
    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Image cache (default /var/cache/vmlet as root, else $XDG_CACHE_HOME/vmlet).")
    Path cacheDir;

    VmletPaths paths() {
      VmletPaths paths = VmletPaths.fromEnvironment();
      return cacheDir == null ? paths : paths.withCacheDir(cacheDir);
    }
  }

  static ImageBuilder.Recipe recipe(String name) {
    return RECIPES.stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow(() -> new CliException(
        "unknown image '" + name + "'; images: " + String.join(", ", RECIPES.stream().map(ImageBuilder.Recipe::name).toList()), 2));
  }

  @Command(name = "build", mixinStandardHelpOptions = true,
      description = {"Build an image from the host's Debian packages. A no-op when it is up to date.",
          "micro: kernel + initramfs with busybox, a jlink runtime and the agent (about 20 s).",
          "debian: Debian 12 with systemd, cloud-init and SSH, no Java (root; about 2 minutes).",
          "agent-bundle: the agent and a jlink runtime that cloud-init installs into a guest."})
  static final class Build implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE", description = "micro, debian or agent-bundle")
    String image;

    @Mixin CacheOption cache;

    @Override
    public Integer call() throws Exception {
      ImageBuilder.Recipe recipe = recipe(image);
      VmletPaths paths = cache.paths();
      Path dir = paths.imageDir(recipe.name());
      ImageBuilder.build(recipe, recipe.holdsAgent() ? AgentJar.locate() : null, dir, line -> System.out.println("  " + line));
      System.out.println(recipe.name() + " image ready in " + dir);
      return 0;
    }
  }

  @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "The images in the cache, with size and age.")
  static final class ListImages implements Callable<Integer> {
    @Mixin CacheOption cache;

    @Override
    public Integer call() throws Exception {
      VmletPaths paths = cache.paths();
      String fmt = "%-14s %-10s %-10s %-24s %s%n";
      System.out.printf(fmt, "IMAGE", "SIZE", "AGE", "KERNEL", "PATH");
      for (ImageBuilder.Recipe r : RECIPES) {
        Path dir = paths.imageDir(r.name());
        Properties p = ImageBuilder.load(r, dir).orElse(null);
        if (p == null) {
          continue;
        }
        long bytes = 0;
        for (String o : r.outputs()) {
          bytes += Files.size(dir.resolve(o));
        }
        Duration age = Duration.between(Instant.parse(p.getProperty("built.at", Instant.now().toString())), Instant.now());
        System.out.printf(fmt, r.name(), bytes / (1 << 20) + " MiB", age(age), p.getProperty("kernel.version", "-"), dir);
      }
      return 0;
    }

    static String age(Duration d) {
      return d.toDays() > 0 ? d.toDays() + "d" : d.toHours() > 0 ? d.toHours() + "h" : d.toMinutes() + "m";
    }
  }

  @Command(name = "rm", aliases = "remove", mixinStandardHelpOptions = true,
      description = "Remove an image from the cache (VMs made from it keep their own disks but cannot start until it is rebuilt).")
  static final class Remove implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE", description = "micro, debian or agent-bundle")
    String image;

    @Mixin CacheOption cache;

    @Override
    public Integer call() throws Exception {
      ImageBuilder.Recipe recipe = recipe(image);
      Path dir = cache.paths().imageDir(recipe.name());
      if (!Files.exists(dir)) {
        throw new CliException("there is no " + recipe.name() + " image in " + dir);
      }
      FileTrees.deleteTree(dir);
      System.out.println("Removed the " + recipe.name() + " image from " + dir);
      return 0;
    }
  }

  /** Builds (or finds up to date) the micro image, printing progress lines. */
  static MicroImage buildMicro(VmletPaths paths) throws Exception {
    return MicroImageBuilder.build(AgentJar.locate(), paths.imageDir("micro"), line -> System.out.println("  " + line));
  }
}
