package dev.vmlet.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskIoTest {
  /** Trimmed from QEMU 7.2's answer for a VM with disk "data" and a cloud image's seed drive. */
  private static final String BLOCKSTATS = """
      [{"device": "disk-data", "node-name": "#block123", "qdev": "/machine/peripheral-anon/device[2]/virtio-backend",
        "stats": {"rd_bytes": 4096, "wr_bytes": 1048576, "rd_operations": 2, "wr_operations": 16, "flush_operations": 1,
                  "rd_total_time_ns": 1000, "invalid_rd_operations": 0},
        "parent": {"node-name": "#block0", "stats": {"rd_bytes": 0, "wr_bytes": 0, "rd_operations": 0, "wr_operations": 0}}},
       {"device": "ro0", "stats": {"rd_bytes": 77, "wr_bytes": 0, "rd_operations": 1, "wr_operations": 0}},
       {"device": "", "node-name": "pflash0", "stats": {"rd_bytes": 1, "wr_bytes": 0, "rd_operations": 1, "wr_operations": 0}}]
      """;

  @Test
  void parse_namesVmletDisksByTheirName_keepsOtherDrives_andSkipsNodesWithoutADevice() {
    assertThat(DiskIo.parse(JsonParser.parseString(BLOCKSTATS))).containsExactly(
        new DiskIo("data", 4096, 1048576, 2, 16), new DiskIo("ro0", 77, 0, 1, 0));
  }

  @Test
  void parse_ofNoAnswer_isEmpty() {
    assertThat(DiskIo.parse(null)).isEmpty();
  }

  @TempDir Path sys;

  @Test
  void readTap_turnsTheHostsViewIntoTheGuests() throws Exception {
    Path stats = Files.createDirectories(sys.resolve("class/net/tap7/statistics"));
    Files.writeString(stats.resolve("rx_bytes"), "100\n");
    Files.writeString(stats.resolve("tx_bytes"), "2000\n");
    Files.writeString(stats.resolve("rx_packets"), "3\n");
    Files.writeString(stats.resolve("tx_packets"), "40\n");

    // What the TAP device transmits, the guest receives.
    assertThat(NicIo.readTap(sys, "tap7")).contains(new NicIo("tap7", 2000, 100, 40, 3));
    assertThat(NicIo.readTap(sys, "tap8")).isEmpty();
  }
}
