package dev.vmlet.image;

import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessResult;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Consumer;
import dev.vmlet.fs.FileTrees;
import java.io.ByteArrayOutputStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builds an image into the image cache by running its {@link Recipe}'s script (shipped in this jar)
 * and records what it was built from in {@code manifest.properties}. The image is rebuilt when the
 * agent jar (for recipes that hold the agent) or the build scripts change. A build goes to a fresh
 * directory that replaces the old image only when complete, so a failed or interrupted build never
 * leaves half an image.
 */
public final class ImageBuilder {
  static final String MANIFEST = "manifest.properties";
  /** A Debian build from a slow mirror takes many minutes; one still running after this has hung. */
  static final Duration BUILD_TIMEOUT = Duration.ofHours(2);
  /** How many of the script's last lines a failed build quotes. */
  private static final int TAIL_LINES = 10;

  /**
   * How to build one image.
   *
   * @param name the image's name in the cache and in messages
   * @param scripts the script to run first, then the scripts it calls (all written next to it)
   * @param outputs the files a complete image has
   * @param holdsAgent whether the image contains the agent (rebuilt when the agent jar changes)
   */
  public record Recipe(String name, List<String> scripts, List<String> outputs, boolean holdsAgent) {
    public Recipe {
      scripts = List.copyOf(scripts);
      outputs = List.copyOf(outputs);
    }
  }

  public static final Recipe MICRO = new Recipe("micro", List.of("build-micro.sh", "build-agent-runtime.sh"),
      List.of("vmlinuz", "initrd.img"), true);
  /** The micro image on Debian's generic kernel with its 9p modules (the cloud kernel has no 9p). */
  public static final Recipe MICRO_GENERIC = new Recipe("micro-generic",
      List.of("build-micro-generic.sh", "build-micro.sh", "build-agent-runtime.sh"), List.of("vmlinuz", "initrd.img"), true);
  public static final Recipe DEBIAN = new Recipe("debian", List.of("build-debian.sh"),
      List.of("root.qcow2", "vmlinuz", "initrd.img"), false);
  public static final Recipe AGENT_BUNDLE = new Recipe("agent-bundle",
      List.of("build-agent-bundle.sh", "build-agent-runtime.sh", "agent-tcg-flags.sh"), List.of("agent-bundle.iso"), true);

  private ImageBuilder() {}

  /** The manifest of the image in {@code imageDir}, if it was built completely. */
  public static Optional<Properties> load(Recipe recipe, Path imageDir) {
    Path manifest = imageDir.resolve(MANIFEST);
    if (!Files.isRegularFile(manifest)) {
      return Optional.empty();
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(manifest)) {
      p.load(r);
    } catch (IOException e) {
      return Optional.empty();
    }
    for (String out : recipe.outputs()) {
      if (!Files.isRegularFile(imageDir.resolve(out))) {
        return Optional.empty();
      }
    }
    return Optional.of(p);
  }

  /** When the image in {@code imageDir} was built, as its manifest records it (ISO-8601). */
  static Optional<String> builtAt(Path imageDir) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(imageDir.resolve(MANIFEST))) {
      p.load(r);
    } catch (IOException e) {
      return Optional.empty();
    }
    return Optional.ofNullable(p.getProperty("built.at"));
  }

  /**
   * Returns the manifest of the image in {@code imageDir}, building it first when it is missing
   * or was built from another agent jar or build script.
   *
   * @param agentJar the agent, for recipes that hold it; else ignored (may be null)
   * @param progress receives one line per build step
   * @throws IOException when the build fails, with the script's last lines
   */
  public static Properties build(Recipe recipe, Path agentJar, Path imageDir, Consumer<String> progress) throws IOException {
    return build(recipe, agentJar, imageDir, progress, ProcessRunner.system());
  }

  /** As {@link #build(Recipe, Path, Path, Consumer)}, with the build script run by {@code runner}. */
  public static synchronized Properties build(Recipe recipe, Path agentJar, Path imageDir, Consumer<String> progress,
      ProcessRunner runner) throws IOException {
    Map<String, byte[]> scripts = new LinkedHashMap<>();
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (String name : recipe.scripts()) {
      byte[] text = readScript(name);
      scripts.put(name, text);
      all.writeBytes(text);
    }
    String agentSha = recipe.holdsAgent() ? sha256(Files.readAllBytes(agentJar)) : "";
    String builderSha = sha256(all.toByteArray());
    Optional<Properties> current = load(recipe, imageDir);
    if (current.isPresent() && current.get().getProperty("agent.sha256", "").equals(agentSha)
        && current.get().getProperty("builder.sha256", "").equals(builderSha)) {
      progress.accept("up to date" + (agentSha.isEmpty() ? "" : " (agent " + agentSha.substring(0, 12) + ")"));
      return current.get();
    }
    progress.accept(current.isPresent() ? "rebuilding: the agent jar or the builder changed" : "building into " + imageDir);
    Path parent = imageDir.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path staging = Files.createTempDirectory(parent, imageDir.getFileName() + ".build-");
    try {
      Path scriptDir = Files.createDirectories(staging.resolve("scripts"));
      for (var s : scripts.entrySet()) {
        Files.write(scriptDir.resolve(s.getKey()), s.getValue());
      }
      Path out = staging.resolve("image");
      long t0 = System.nanoTime();
      runScript(runner, recipe, scriptDir.resolve(recipe.scripts().get(0)), agentJar, out, parent.resolve("downloads"), progress);
      for (String o : recipe.outputs()) {
        if (!Files.isRegularFile(out.resolve(o))) {
          throw new IOException("building the " + recipe.name() + " image wrote no " + o);
        }
      }
      Properties p = new Properties();
      if (Files.exists(out.resolve("kernel-version"))) {
        p.setProperty("kernel.version", Files.readString(out.resolve("kernel-version")).strip());
      }
      p.setProperty("agent.sha256", agentSha);
      p.setProperty("builder.sha256", builderSha);
      for (String o : recipe.outputs()) {
        p.setProperty(o + ".bytes", Long.toString(Files.size(out.resolve(o))));
      }
      p.setProperty("built.at", Instant.now().toString());
      p.setProperty("build.seconds", Long.toString((System.nanoTime() - t0) / 1_000_000_000L));
      try (Writer w = Files.newBufferedWriter(out.resolve(MANIFEST))) {
        p.store(w, "vmlet " + recipe.name() + " image");
      }
      replace(out, imageDir);
    } finally {
      FileTrees.deleteTree(staging);
    }
    return load(recipe, imageDir)
        .orElseThrow(() -> new IOException("the " + recipe.name() + " image vanished after its build in " + imageDir));
  }

  /** Moves the finished image into place; the old one stays whole until the new one is there. */
  private static void replace(Path built, Path imageDir) throws IOException {
    Path old = null;
    if (Files.exists(imageDir)) {
      old = imageDir.resolveSibling(imageDir.getFileName() + ".old-" + System.nanoTime());
      Files.move(imageDir, old, StandardCopyOption.ATOMIC_MOVE);
    }
    Files.move(built, imageDir, StandardCopyOption.ATOMIC_MOVE);
    if (old != null) {
      FileTrees.deleteTree(old);
    }
  }

  private static void runScript(ProcessRunner runner, Recipe recipe, Path script, Path agentJar, Path out, Path downloads,
      Consumer<String> progress) throws IOException {
    String agent = agentJar == null ? "" : agentJar.toAbsolutePath().toString();
    ArrayDeque<String> tail = new ArrayDeque<>();
    Consumer<String> lines = line -> {
      progress.accept(line);
      synchronized (tail) {
        tail.addLast(line);
        if (tail.size() > TAIL_LINES) {
          tail.removeFirst();
        }
      }
    };
    ProcessResult r;
    try {
      // The lines go to progress and tail as they come; none need keeping in the result.
      r = runner.run(ProcessRequest.of(BUILD_TIMEOUT, "bash", script.toString(), agent, out.toString(), downloads.toString())
          .withStderrMerged().withLines(lines).withOutputLimit(0));
    } catch (InterruptedIOException e) {
      InterruptedIOException x = new InterruptedIOException("interrupted while building the " + recipe.name() + " image");
      x.initCause(e);
      throw x;
    }
    String last;
    synchronized (tail) {
      last = String.join(" | ", tail);
    }
    if (r.timedOut()) {
      throw new IOException("building the " + recipe.name() + " image did not finish within " + BUILD_TIMEOUT.toHours() + " h: " + last);
    }
    if (r.exitCode() != 0) {
      throw new IOException("building the " + recipe.name() + " image failed (exit " + r.exitCode() + "): " + last);
    }
  }

  private static byte[] readScript(String name) throws IOException {
    try (InputStream in = ImageBuilder.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IOException(name + " is missing from the vmlet jar");
      }
      return in.readAllBytes();
    }
  }

  static String sha256(byte[] data) {
    return Digests.hex(data);
  }
}
