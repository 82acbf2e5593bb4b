package dev.vmlet.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * One network interface's counters, seen from the host: a TAP device's {@code
 * /sys/class/net/TAP/statistics}, as the libvirt exporter reports a domain's interfaces. QMP has
 * no packet counters for a NIC (QEMU 7.2's {@code query-stats} covers KVM only), and user-mode
 * networking (slirp) has no host device to count on, so such VMs have no network numbers.
 *
 * <p>Received and transmitted are the guest's view: what the host's TAP transmits the guest receives.
 */
public record NicIo(String iface, long receivedBytes, long transmittedBytes, long receivedPackets, long transmittedPackets) {
  /** The TAP device {@code tap} under {@code sysRoot} ({@code /sys}); empty when it does not exist. */
  public static Optional<NicIo> readTap(Path sysRoot, String tap) {
    Path stats = sysRoot.resolve("class/net").resolve(tap).resolve("statistics");
    try {
      return Optional.of(new NicIo(tap, read(stats, "tx_bytes"), read(stats, "rx_bytes"), read(stats, "tx_packets"),
          read(stats, "rx_packets")));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static long read(Path dir, String counter) throws IOException {
    return Long.parseLong(Files.readString(dir.resolve(counter)).strip());
  }
}
