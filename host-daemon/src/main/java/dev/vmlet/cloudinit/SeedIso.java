package dev.vmlet.cloudinit;

import dev.vmlet.proc.ProcessFailedException;
import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import dev.vmlet.fs.FileTrees;

/** Writes a NoCloud seed as an ISO 9660 image labelled {@code cidata}, with xorriso. */
public final class SeedIso {
  static final Duration TIMEOUT = Duration.ofSeconds(60);

  private SeedIso() {}

  /** As {@link #write(Path, Map, ProcessRunner)} with the host's xorriso. */
  public static void write(Path iso, Map<String, String> files) throws IOException {
    write(iso, files, ProcessRunner.system());
  }

  /**
   * Replaces {@code iso} with a seed holding {@code files} (name to content); a failed write leaves
   * the old one.
   */
  public static void write(Path iso, Map<String, String> files, ProcessRunner runner) throws IOException {
    Path dir = Files.createTempDirectory(iso.getParent(), "seed-");
    Path tmp = iso.resolveSibling(iso.getFileName() + ".tmp");
    try {
      for (var f : files.entrySet()) {
        Files.writeString(dir.resolve(f.getKey()), f.getValue(), StandardCharsets.UTF_8);
      }
      runner.run(ProcessRequest.of(TIMEOUT, List.of("xorriso", "-as", "mkisofs", "-quiet", "-output", tmp.toString(),
          "-volid", "cidata", "-joliet", "-rock", dir.toString())).withStderrMerged()).requireSuccess();
      Files.move(tmp, iso, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (ProcessFailedException e) {
      throw new IOException("xorriso could not write the cloud-init seed: " + e.getMessage(), e);
    } finally {
      Files.deleteIfExists(tmp);
      FileTrees.deleteTree(dir);
    }
  }
}
