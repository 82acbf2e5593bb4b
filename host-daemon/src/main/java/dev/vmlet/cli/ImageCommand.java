package dev.vmlet.cli;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.ImageBuilder;
import dev.vmlet.image.MicroImage;
import dev.vmlet.image.MicroImageBuilder;
import dev.vmlet.image.OciImages;
import dev.vmlet.image.RegistryClient;
import dev.vmlet.spec.OciReference;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
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

@Command(name = "image", mixinStandardHelpOptions = true,
    description = "Build, list and remove VM images in the cache; push them to and pull them from an OCI registry.",
    subcommands = {ImageCommand.Build.class, ImageCommand.ListImages.class, ImageCommand.Remove.class, ImageCommand.Push.class,
        ImageCommand.Pull.class})
final class ImageCommand implements Runnable {
  static final List<ImageBuilder.Recipe> RECIPES = List.of(ImageBuilder.MICRO, ImageBuilder.MICRO_GENERIC, ImageBuilder.DEBIAN,
      ImageBuilder.AGENT_BUNDLE);

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
          "micro-generic: the same on Debian's generic kernel, which mounts 9p shares (about 20 s).",
          "debian: Debian 12 with systemd, cloud-init and SSH, no Java (root; about 2 minutes).",
          "agent-bundle: the agent and a jlink runtime that cloud-init installs into a guest."})
  static final class Build implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE", description = "micro, micro-generic, debian or agent-bundle")
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
      List<OciImages.CachedTag> pulled = new OciImages(paths.cacheDir(), line -> { }).tags();
      if (!pulled.isEmpty()) {
        System.out.printf("%nPULLED (launch --image oci://REFERENCE)%n");
        for (OciImages.CachedTag t : pulled) {
          System.out.printf("%-50s %s %s%n", t.reference(), t.digest().substring(0, 19), t.dir());
        }
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
    @Parameters(paramLabel = "IMAGE", description = "micro, micro-generic, debian or agent-bundle")
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

  /** How to reach a registry: credentials and plain HTTP, shared by push and pull. */
  static final class RegistryOptions {
    @Option(names = "--username", paramLabel = "USER", description = "Registry user (default $VMLET_REGISTRY_USERNAME).")
    String username;

    @Option(names = "--password-stdin", description = "Read the registry password from the first line of standard input"
        + " (default $VMLET_REGISTRY_PASSWORD).")
    boolean passwordStdin;

    @Option(names = "--plain-http", description = "Speak plain HTTP to a registry that is not on loopback (loopback always is).")
    boolean plainHttp;

    RegistryClient.Options options() throws IOException {
      if (username == null && !passwordStdin) {
        return RegistryClient.Options.fromEnvironment(plainHttp);
      }
      if (username == null || !passwordStdin) {
        throw new CliException("give --username and --password-stdin together", 2);
      }
      String password = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
      if (password == null || password.isEmpty()) {
        throw new CliException("--password-stdin read no password from standard input", 2);
      }
      return new RegistryClient.Options(new RegistryClient.Credentials(username, password), plainHttp);
    }
  }

  static OciReference reference(String text) {
    try {
      return OciReference.parse(text);
    } catch (IllegalArgumentException e) {
      throw new CliException(e.getMessage(), 2);
    }
  }

  @Command(name = "push", mixinStandardHelpOptions = true,
      description = {"Push an image of the cache to an OCI registry as an ORAS-style artifact: one zstd layer per file.",
          "Blobs the registry already has are not sent again."})
  static final class Push implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "micro, micro-generic, debian or agent-bundle")
    String image;

    @Parameters(index = "1", paramLabel = "REGISTRY/REPOSITORY:TAG")
    String target;

    @Mixin CacheOption cache;
    @Mixin RegistryOptions registry;

    @Override
    public Integer call() throws Exception {
      ImageBuilder.Recipe recipe = recipe(image);
      OciReference ref = reference(target);
      Path dir = cache.paths().imageDir(recipe.name());
      if (ImageBuilder.load(recipe, dir).isEmpty()) {
        throw new CliException("there is no complete " + recipe.name() + " image in " + dir + "; run: vmlet image build " + recipe.name());
      }
      OciImages.Pushed p = new OciImages(cache.paths().cacheDir(), line -> System.out.println("  " + line))
          .push(dir, recipe.name(), ref, registry.options());
      System.out.println("Pushed " + recipe.name() + " to " + ref + " (" + p.layers() + " layers, " + p.bytesUploaded()
          + " bytes uploaded)");
      System.out.println("digest " + p.digest());
      return 0;
    }
  }

  @Command(name = "pull", mixinStandardHelpOptions = true,
      description = {"Pull an image from an OCI registry into the cache, checking every blob's digest.",
          "An image whose digest is cached moves no blob; a cut download resumes where it stopped.",
          "Boot it with: vmlet launch NAME --image oci://REGISTRY/REPOSITORY:TAG"})
  static final class Pull implements Callable<Integer> {
    @Parameters(paramLabel = "REGISTRY/REPOSITORY:TAG", description = "or REGISTRY/REPOSITORY@sha256:HEX")
    String source;

    @Mixin CacheOption cache;
    @Mixin RegistryOptions registry;

    @Override
    public Integer call() throws Exception {
      OciReference ref = reference(source);
      OciImages.Pulled p;
      try {
        p = new OciImages(cache.paths().cacheDir(), line -> System.out.println("  " + line)).pull(ref, registry.options());
      } catch (IllegalArgumentException e) {
        throw new CliException(ref + ": " + e.getMessage());
      }
      System.out.println("Pulled " + ref + " into " + p.dir() + " (" + p.bytesDownloaded() + " bytes downloaded)");
      System.out.println("digest " + p.digest());
      return 0;
    }
  }

  /** Builds (or finds up to date) the micro image, printing progress lines. */
  static MicroImage buildMicro(VmletPaths paths) throws Exception {
    return MicroImageBuilder.build(AgentJar.locate(), paths.imageDir("micro"), line -> System.out.println("  " + line));
  }
}
