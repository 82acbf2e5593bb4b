package dev.vmlet.metrics;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * One disk's I/O counters as QEMU counts them ({@code query-blockstats}), since QEMU started.
 *
 * @param disk the vmlet disk name ({@code root}, {@code data}) for the VM's own disks, else QEMU's drive id
 *     ({@code ro0}: the read-only seed and agent bundle of cloud images)
 */
public record DiskIo(String disk, long readBytes, long writtenBytes, long reads, long writes) {
  /** The drive ids vmlet gives a VM's own disks: {@code disk-NAME} (see QemuCommandBuilder). */
  private static final String OWN = "disk-";

  /** The answer of {@code query-blockstats}: one entry per drive; entries without a device id are skipped. */
  public static List<DiskIo> parse(JsonElement blockstats) {
    List<DiskIo> out = new ArrayList<>();
    if (blockstats == null || !blockstats.isJsonArray()) {
      return out;
    }
    for (JsonElement e : blockstats.getAsJsonArray()) {
      JsonObject o = e.getAsJsonObject();
      String device = o.has("device") ? o.get("device").getAsString() : "";
      JsonObject s = o.getAsJsonObject("stats");
      if (device.isEmpty() || s == null) {
        continue;
      }
      out.add(new DiskIo(device.startsWith(OWN) ? device.substring(OWN.length()) : device, s.get("rd_bytes").getAsLong(),
          s.get("wr_bytes").getAsLong(), s.get("rd_operations").getAsLong(), s.get("wr_operations").getAsLong()));
    }
    return out;
  }
}
