package dev.vmlet.qemu;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.vmlet.qmp.QmpClient;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A template's guest RAM kept in a file ({@code memory-backend-file}) instead of in its migration
 * stream. The helper QEMU that makes it maps the file shared and writes the RAM into it; every
 * clone maps it private ({@code share=off}): the pages stay the page cache's, shared by all clones,
 * until a clone writes one. The migration stream then carries only the device state, because both
 * ends run with the {@code x-ignore-shared} capability (QEMU skips a RAM block it maps shared from a
 * file on the sending side; since QEMU 4.1 the receiving side may map it private).
 *
 * <p>The backend's id names the RAM block in the stream, so it must be the id of the source VM's
 * RAM: QEMU's default RAM backend is {@code pc.ram} on q35 and {@code microvm.ram} on microvm.
 */
public final class TemplateMemory {
  /** The memory file's name in a template's directory. */
  public static final String FILE = "memory";
  private static final Duration QMP_BOUND = Duration.ofSeconds(10);

  private TemplateMemory() {}

  /**
   * The arguments that put the machine's RAM in {@code file}: added to a command line built by
   * {@link QemuCommandBuilder} (QEMU merges a second {@code -machine}).
   *
   * @param shared true for the helper that writes the file, false for a clone (copy on write)
   */
  public static List<String> backend(String id, long memoryMib, Path file, boolean shared) {
    if (!id.matches("[A-Za-z0-9._-]+")) {
      throw new IllegalArgumentException("memory backend id must be a plain QEMU id, got '" + id + "'");
    }
    return List.of("-object", "memory-backend-file,id=" + id + ",size=" + memoryMib + "M,mem-path="
        + QemuCommandBuilder.opt(file) + ",share=" + (shared ? "on" : "off"), "-machine", "memory-backend=" + id);
  }

  /**
   * The id of the VM's one RAM backend, when its RAM is QEMU's default (one backend, private,
   * anonymous); empty otherwise (hugepages, or the memfd that virtiofsd needs), which a template
   * keeps in its stream.
   */
  public static Optional<String> defaultRamBackend(QmpClient qmp) throws IOException {
    JsonElement memdevs = qmp.execute("query-memdev", null, QMP_BOUND);
    if (!memdevs.isJsonArray() || memdevs.getAsJsonArray().size() != 1) {
      return Optional.empty();
    }
    JsonObject m = memdevs.getAsJsonArray().get(0).getAsJsonObject();
    String id = m.has("id") ? m.get("id").getAsString() : "";
    boolean defaultId = id.equals("pc.ram") || id.equals("microvm.ram");
    boolean shared = m.has("share") && m.get("share").getAsBoolean();
    return defaultId && !shared ? Optional.of(id) : Optional.empty();
  }

  /** Turns {@code x-ignore-shared} on: before {@code migrate} or {@code migrate-incoming}, on both ends. */
  public static void ignoreShared(QmpClient qmp) throws IOException {
    JsonObject cap = new JsonObject();
    cap.addProperty("capability", "x-ignore-shared");
    cap.addProperty("state", true);
    JsonArray caps = new JsonArray();
    caps.add(cap);
    JsonObject args = new JsonObject();
    args.add("capabilities", caps);
    qmp.execute("migrate-set-capabilities", args, QMP_BOUND);
  }
}
