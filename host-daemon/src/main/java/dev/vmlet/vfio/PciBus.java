package dev.vmlet.vfio;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The PCI bus under a sysfs root ({@code /sys} on a host, a fake tree in tests): what is there,
 * and the writes that move a function between drivers.
 */
public final class PciBus {
  public static final String VFIO = "vfio-pci";
  private final Path sys;
  private final SysfsWriter writer;

  public PciBus(Path sys, SysfsWriter writer) {
    this.sys = sys;
    this.writer = writer;
  }

  /**
   * The character device of an IOMMU group, which QEMU opens to pass its functions through: the
   * kernel makes it (root's, 0600) when the group's first function binds to vfio-pci. It lives in
   * the devtmpfs beside this sysfs: /dev/vfio/N for /sys.
   */
  public Path vfioGroupDevice(String group) {
    Path parent = sys.toAbsolutePath().getParent();
    return (parent == null ? sys.getRoot() : parent).resolve("dev/vfio").resolve(group);
  }

  public Path root() {
    return sys;
  }

  private Path devices() {
    return sys.resolve("bus/pci/devices");
  }

  /** Every PCI function, sorted by address; empty when sysfs has no PCI bus. */
  public List<PciDevice> list() throws IOException {
    if (!Files.isDirectory(devices())) {
      return List.of();
    }
    List<PciDevice> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(devices())) {
      for (Path p : s.sorted().toList()) {
        out.add(read(p.getFileName().toString()));
      }
    }
    return out;
  }

  public Optional<PciDevice> find(String address) throws IOException {
    return Files.isDirectory(devices().resolve(address)) ? Optional.of(read(address)) : Optional.empty();
  }

  private PciDevice read(String address) throws IOException {
    Path d = devices().resolve(address);
    String group = linkName(d.resolve("iommu_group"));
    List<String> members = new ArrayList<>();
    if (!group.isEmpty()) {
      try (Stream<Path> s = Files.list(sys.resolve("kernel/iommu_groups").resolve(group).resolve("devices"))) {
        s.map(p -> p.getFileName().toString()).sorted().forEach(members::add);
      }
    }
    String numa = attr(d, "numa_node");
    String override = attr(d, "driver_override");
    return new PciDevice(address, attr(d, "vendor"), attr(d, "device"), attr(d, "class"), linkName(d.resolve("driver")),
        override.equals("(null)") ? "" : override, group, members, numa.isEmpty() ? -1 : Integer.parseInt(numa));
  }

  private static String attr(Path dir, String name) throws IOException {
    Path f = dir.resolve(name);
    return Files.isRegularFile(f) ? Files.readString(f).strip() : "";
  }

  private static String linkName(Path link) throws IOException {
    return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : "";
  }

  /** Whether the host has an IOMMU in use (it made groups). */
  public boolean iommuEnabled() throws IOException {
    Path groups = sys.resolve("kernel/iommu_groups");
    if (!Files.isDirectory(groups)) {
      return false;
    }
    try (Stream<Path> s = Files.list(groups)) {
      return s.findAny().isPresent();
    }
  }

  public int iommuGroups() throws IOException {
    Path groups = sys.resolve("kernel/iommu_groups");
    if (!Files.isDirectory(groups)) {
      return 0;
    }
    try (Stream<Path> s = Files.list(groups)) {
      return (int) s.count();
    }
  }

  /** Whether a driver is registered (its module loaded), e.g. vfio-pci. */
  public boolean driverLoaded(String driver) {
    return Files.isDirectory(sys.resolve("bus/pci/drivers").resolve(driver));
  }

  /** Sets (or with "" clears) which driver alone may bind the function. */
  void setOverride(String address, String driver) throws IOException {
    writer.write(devices().resolve(address).resolve("driver_override"), driver.isEmpty() ? "\n" : driver);
  }

  void unbind(String address, String driver) throws IOException {
    writer.write(sys.resolve("bus/pci/drivers").resolve(driver).resolve("unbind"), address);
  }

  void bind(String address, String driver) throws IOException {
    writer.write(sys.resolve("bus/pci/drivers").resolve(driver).resolve("bind"), address);
  }

  /** Lets the kernel pick the driver (the override's, else the matching one). */
  void probe(String address) throws IOException {
    writer.write(sys.resolve("bus/pci/drivers_probe"), address);
  }
}
