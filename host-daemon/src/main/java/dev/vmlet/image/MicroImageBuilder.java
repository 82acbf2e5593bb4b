package dev.vmlet.image;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * Builds the micro image into the image cache by running {@code build-micro.sh} (shipped in this
 * jar) and records what it was built from in {@code manifest.properties}. The image is rebuilt
 * when the agent jar or the build script changes. A build goes to a fresh directory that replaces
 * the old image only when complete, so a failed or interrupted build never leaves half an image.
 */
public final class MicroImageBuilder {
  private static final String SCRIPT = "build-micro.sh";
  private static final String MANIFEST = "manifest.properties";

  private MicroImageBuilder() {}

  /** The image in {@code imageDir}, if one was built completely. */
  public static Optional<MicroImage> load(Path imageDir) {
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
    Path kernel = imageDir.resolve("vmlinuz");
    Path initrd = imageDir.resolve("initrd.img");
    if (!Files.isRegularFile(kernel) || !Files.isRegularFile(initrd)) {
      return Optional.empty();
    }
    return Optional.of(new MicroImage(kernel, initrd, p.getProperty("kernel.version", ""),
        p.getProperty("agent.sha256", ""), p.getProperty("builder.sha256", "")));
  }

  /**
   * Returns the image in {@code imageDir}, building it first when it is missing or was built from
   * another agent jar or build script.
   *
   * @param progress receives one line per build step
   * @throws IOException when the build fails, with the script's last lines
   */
  public static synchronized MicroImage build(Path agentJar, Path imageDir, Consumer<String> progress) throws IOException {
    byte[] script = readScript();
    String agentSha = sha256(Files.readAllBytes(agentJar));
    String builderSha = sha256(script);
    Optional<MicroImage> current = load(imageDir);
    if (current.isPresent() && current.get().agentSha256().equals(agentSha) && current.get().builderVersion().equals(builderSha)) {
      progress.accept("up to date (agent " + agentSha.substring(0, 12) + ")");
      return current.get();
    }
    progress.accept(current.isPresent() ? "rebuilding: the agent jar or the builder changed" : "building into " + imageDir);
    Path parent = imageDir.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path staging = Files.createTempDirectory(parent, imageDir.getFileName() + ".build-");
    try {
      Path scriptFile = staging.resolve(SCRIPT);
      Files.write(scriptFile, script);
      Path out = staging.resolve("image");
      runScript(scriptFile, agentJar, out, parent.resolve("downloads"), progress);
      Files.delete(scriptFile);
      Properties p = new Properties();
      p.setProperty("kernel.version", Files.readString(out.resolve("kernel-version")).strip());
      p.setProperty("agent.sha256", agentSha);
      p.setProperty("builder.sha256", builderSha);
      p.setProperty("kernel.bytes", Long.toString(Files.size(out.resolve("vmlinuz"))));
      p.setProperty("initrd.bytes", Long.toString(Files.size(out.resolve("initrd.img"))));
      p.setProperty("built.at", Instant.now().toString());
      try (Writer w = Files.newBufferedWriter(out.resolve(MANIFEST))) {
        p.store(w, "vmlet micro image");
      }
      replace(out, imageDir);
    } finally {
      dev.vmlet.vm.VmStore.deleteTree(staging);
    }
    return load(imageDir).orElseThrow(() -> new IOException("the micro image vanished after its build in " + imageDir));
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
      dev.vmlet.vm.VmStore.deleteTree(old);
    }
  }

  private static void runScript(Path script, Path agentJar, Path out, Path downloads, Consumer<String> progress)
      throws IOException {
    Process p = new ProcessBuilder("bash", script.toString(), agentJar.toAbsolutePath().toString(), out.toString(),
        downloads.toString()).redirectErrorStream(true).start();
    ArrayDeque<String> tail = new ArrayDeque<>();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        progress.accept(line);
        tail.addLast(line);
        if (tail.size() > 10) {
          tail.removeFirst();
        }
      }
    }
    int code;
    try {
      code = p.waitFor();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while building the micro image", e);
    }
    if (code != 0) {
      throw new IOException("building the micro image failed (exit " + code + "): " + String.join(" | ", tail));
    }
  }

  private static byte[] readScript() throws IOException {
    try (InputStream in = MicroImageBuilder.class.getResourceAsStream(SCRIPT)) {
      if (in == null) {
        throw new IOException(SCRIPT + " is missing from the vmlet jar");
      }
      return in.readAllBytes();
    }
  }

  static String sha256(byte[] data) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
