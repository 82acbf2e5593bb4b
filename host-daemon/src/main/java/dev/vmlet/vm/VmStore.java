package dev.vmlet.vm;

import dev.vmlet.fs.FileTrees;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;
import java.nio.file.FileSystemException;
import java.util.concurrent.atomic.LongAdder;

/**
 * Persists {@link VmRecord}s as {@code <stateDir>/vms/<name>/vm.json} (mode 0600). A write goes to a temporary
 * file that is fsynced and renamed over the old one, so a crash leaves either the old or the new
 * record, never half of one.
 */
public final class VmStore {
  private static final Logger LOG = Logger.getLogger(VmStore.class.getName());
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
  private final Path vmsDir;
  private final LongAdder writeFailures = new LongAdder();

  public VmStore(Path stateDir) {
    this.vmsDir = stateDir.resolve("vms");
  }

  public Path dirOf(String name) {
    return vmsDir.resolve(name);
  }

  public void save(VmRecord record) {
    Path dir = dirOf(record.config().name());
    Path target = dir.resolve("vm.json");
    Path tmp = dir.resolve("vm.json.tmp");
    try {
      Files.createDirectories(dir);
      // 0600: the record holds the VM's credentials (secrets) and proxy.
      Files.deleteIfExists(tmp);
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(tmp, GSON.toJson(record), StandardCharsets.UTF_8);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      writeFailures.increment();
      try {
        Files.deleteIfExists(tmp); // no half-written record left behind
      } catch (IOException ignored) {
        // the directory itself is unusable; the error below says so
      }
      throw unsaved(record.config().name(), dir, e);
    }
  }

  /** How many saves failed since this store was made (the daemon's metrics). */
  public long writeFailures() {
    return writeFailures.sum();
  }

  /** Below this many usable bytes the state directory's file system counts as full. */
  static final long FULL_BELOW = 64 * 1024;

  /** Usable bytes on the file system of {@code dir} or its nearest existing parent; MAX_VALUE when unknown. */
  static long usableBytes(Path dir) {
    for (Path p = dir.toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.exists(p)) {
        try {
          return Files.getFileStore(p).getUsableSpace();
        } catch (IOException e) {
          return Long.MAX_VALUE;
        }
      }
    }
    return Long.MAX_VALUE;
  }

  /** A state write that failed, as the caller should read it: what, where, why, and what to do. */
  static VmException unsaved(String name, Path dir, IOException e) {
    String reason = e instanceof FileSystemException fse && fse.getReason() != null ? fse.getReason()
        : String.valueOf(e.getMessage());
    // The reason is strerror's text, in the daemon's locale: a full file system is told by its space.
    boolean full = reason.contains("No space left") || reason.contains("Disk quota exceeded") || usableBytes(dir) < FULL_BELOW;
    return new VmException(full ? VmException.Kind.RESOURCE_EXHAUSTED : VmException.Kind.FAILED_PRECONDITION,
        "cannot save the state of VM '" + name + "' in " + dir + ": " + reason + "; nothing was changed; "
            + (full ? "free space on the state directory's file system" : "make the state directory writable") + " and retry", e);
  }

  /** Every record that can be read; unreadable ones are logged and skipped. */
  public List<VmRecord> loadAll() {
    List<VmRecord> out = new ArrayList<>();
    if (!Files.isDirectory(vmsDir)) {
      return out;
    }
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(vmsDir)) {
      for (Path dir : dirs) {
        Path file = dir.resolve("vm.json");
        if (!Files.exists(file)) {
          continue;
        }
        try {
          VmRecord r = GSON.fromJson(Files.readString(file), VmRecord.class);
          // Re-validate: a hand-edited file must not smuggle in a bad config.
          VmConfig c = r.config();
          new VmConfig(c.name(), c.vcpus(), c.memoryMib(), c.image(), c.accel());
          if (!c.name().equals(dir.getFileName().toString()) || r.state() == null || r.instanceId() == null) {
            throw new JsonParseException("record does not match its directory or lacks fields");
          }
          out.add(r);
        } catch (IOException | RuntimeException e) {
          LOG.warning("skipping unreadable VM state " + file + ": " + e.getMessage());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + vmsDir, e);
    }
    return out;
  }

  public void delete(String name) {
    FileTrees.deleteTree(dirOf(name));
  }

}
