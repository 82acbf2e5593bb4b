package dev.vmlet.cloudinit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Writes a NoCloud seed as an ISO 9660 image labelled {@code cidata}, with xorriso. */
public final class SeedIso {
  private SeedIso() {}

  /**
   * Replaces {@code iso} with a seed holding {@code files} (name to content); a failed write leaves
   * the old one.
   */
  public static void write(Path iso, Map<String, String> files) throws IOException {
    Path dir = Files.createTempDirectory(iso.getParent(), "seed-");
    Path tmp = iso.resolveSibling(iso.getFileName() + ".tmp");
    try {
      for (var f : files.entrySet()) {
        Files.writeString(dir.resolve(f.getKey()), f.getValue(), StandardCharsets.UTF_8);
      }
      Process p = new ProcessBuilder(List.of("xorriso", "-as", "mkisofs", "-quiet", "-output", tmp.toString(),
          "-volid", "cidata", "-joliet", "-rock", dir.toString())).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new IOException("xorriso could not write the cloud-init seed: " + out.strip());
      }
      Files.move(tmp, iso, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while writing the cloud-init seed", e);
    } finally {
      Files.deleteIfExists(tmp);
      dev.vmlet.fs.FileTrees.deleteTree(dir);
    }
  }
}
