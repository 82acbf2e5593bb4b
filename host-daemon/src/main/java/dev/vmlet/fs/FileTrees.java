package dev.vmlet.fs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** File-tree helpers that every layer may use; uses nothing of vmlet's. */
public final class FileTrees {
  private FileTrees() {}

  /** Removes a directory tree; missing is fine. */
  public static void deleteTree(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + dir, e);
    }
  }

  /** The bytes of the regular files under {@code dir} (as allocated or not: their sizes); 0 when missing. */
  public static long size(Path dir) {
    if (!Files.exists(dir)) {
      return 0;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      long total = 0;
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        total += Files.size(p);
      }
      return total;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot measure " + dir, e);
    }
  }
}
