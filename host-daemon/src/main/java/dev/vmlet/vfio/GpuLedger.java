package dev.vmlet.vfio;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.reflect.TypeToken;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.TreeMap;

/**
 * What vmlet took from the host, written durably before anything is touched: for each PCI
 * function given to vfio-pci, the driver it had and who holds it (a VM's name, or "manual"). A
 * daemon that dies halfway finds here what to give back. One JSON file, replaced atomically.
 */
public final class GpuLedger {
  /** @param originalDriver empty when the function had no driver */
  public record Entry(String originalDriver, String holder) {}

  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
  private final Path file;
  private final Map<String, Entry> entries = new TreeMap<>();

  public GpuLedger(Path file) throws IOException {
    this.file = file;
    if (Files.exists(file)) {
      Map<String, Entry> read = GSON.fromJson(Files.readString(file), new TypeToken<Map<String, Entry>>() {}.getType());
      if (read != null) {
        entries.putAll(read);
      }
    }
  }

  public synchronized Map<String, Entry> entries() {
    return Map.copyOf(entries);
  }

  public synchronized Entry get(String address) {
    return entries.get(address);
  }

  synchronized void put(Map<String, Entry> add) throws IOException {
    Map<String, Entry> next = new TreeMap<>(entries);
    next.putAll(add);
    save(next);
    entries.clear();
    entries.putAll(next);
  }

  synchronized void remove(String address) throws IOException {
    Map<String, Entry> next = new TreeMap<>(entries);
    if (next.remove(address) != null) {
      save(next);
      entries.remove(address);
    }
  }

  private void save(Map<String, Entry> m) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, GSON.toJson(m), StandardCharsets.UTF_8);
    try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
      c.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
