package dev.vmlet.vfio;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;

/**
 * A sysfs tree that behaves like the kernel's PCI core for the writes vmlet makes: {@code bind}
 * and {@code unbind} move the device's {@code driver} link (and fail with the kernel's errors when
 * the device is bound already, not bound to that driver, or the driver refuses it);
 * {@code driver_override} only lets that driver bind; {@code drivers_probe} binds the override's
 * driver, else the device's native one. Every write is logged.
 */
public final class FakeKernel implements SysfsWriter {
  public final Path sys;
  public final List<String> writes = new ArrayList<>();
  /** driver -> devices it refuses to bind (its probe fails). */
  final Map<String, Set<String>> refuses = new HashMap<>();
  /** devices whose unbind fails (a driver that will not let go). */
  final Set<String> stuck = new HashSet<>();
  private final Map<String, String> nativeDriver = new HashMap<>();

  public FakeKernel(Path root) throws IOException {
    this.sys = root.resolve("sys");
    Files.createDirectories(sys.resolve("bus/pci/devices"));
    Files.createDirectories(sys.resolve("bus/pci/drivers"));
    Files.createDirectories(sys.resolve("kernel/iommu_groups"));
    Files.writeString(sys.resolve("bus/pci/drivers_probe"), "");
  }

  public FakeKernel driver(String name) throws IOException {
    Path d = Files.createDirectories(sys.resolve("bus/pci/drivers").resolve(name));
    for (String f : List.of("bind", "unbind", "new_id")) {
      if (!Files.exists(d.resolve(f))) {
        Files.writeString(d.resolve(f), "");
      }
    }
    return this;
  }

  /** A function bound to {@code driver} ("" for none), in IOMMU group {@code group} ("" for no IOMMU). */
  public FakeKernel device(String address, String pciClass, String vendor, String driver, String group) throws IOException {
    Path d = Files.createDirectories(sys.resolve("bus/pci/devices").resolve(address));
    Files.writeString(d.resolve("class"), pciClass + "\n");
    Files.writeString(d.resolve("vendor"), vendor + "\n");
    Files.writeString(d.resolve("device"), "0x1234\n");
    Files.writeString(d.resolve("numa_node"), "-1\n");
    Files.writeString(d.resolve("driver_override"), "(null)\n");
    nativeDriver.put(address, driver);
    if (!driver.isEmpty()) {
      driver(driver);
      Files.createSymbolicLink(d.resolve("driver"), sys.resolve("bus/pci/drivers").resolve(driver));
    }
    if (!group.isEmpty()) {
      Path g = Files.createDirectories(sys.resolve("kernel/iommu_groups").resolve(group).resolve("devices"));
      Files.createSymbolicLink(g.resolve(address), d);
      Files.createSymbolicLink(d.resolve("iommu_group"), sys.resolve("kernel/iommu_groups").resolve(group));
    }
    return this;
  }

  public String driverOf(String address) throws IOException {
    Path link = sys.resolve("bus/pci/devices").resolve(address).resolve("driver");
    return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : "";
  }

  String overrideOf(String address) throws IOException {
    return Files.readString(sys.resolve("bus/pci/devices").resolve(address).resolve("driver_override")).strip();
  }

  @Override
  public synchronized void write(Path attribute, String value) throws IOException {
    writes.add(sys.relativize(attribute) + " <- " + value.strip());
    Path rel = sys.relativize(attribute);
    String name = rel.getFileName().toString();
    if (rel.startsWith("bus/pci/devices") && name.equals("driver_override")) {
      String v = value.strip();
      Files.writeString(attribute, (v.isEmpty() ? "(null)" : v) + "\n");
    } else if (rel.startsWith("bus/pci/drivers") && rel.getNameCount() == 5 && name.equals("bind")) {
      bind(value.strip(), rel.getName(3).toString());
    } else if (rel.startsWith("bus/pci/drivers") && rel.getNameCount() == 5 && name.equals("unbind")) {
      unbind(value.strip(), rel.getName(3).toString());
    } else if (rel.toString().equals("bus/pci/drivers_probe")) {
      String a = value.strip();
      if (driverOf(a).isEmpty()) {
        String o = overrideOf(a);
        String d = o.equals("(null)") ? nativeDriver.get(a) : o;
        if (d != null && !d.isEmpty()) {
          bind(a, d);
        }
      }
    } else {
      throw new IOException("Permission denied (the fake kernel has no " + rel + ")");
    }
  }

  private void bind(String address, String driver) throws IOException {
    Path dev = sys.resolve("bus/pci/devices").resolve(address);
    if (!Files.isDirectory(dev)) {
      throw new IOException("No such device");
    }
    if (!driverOf(address).isEmpty()) {
      throw new IOException("Device or resource busy");
    }
    String o = overrideOf(address);
    if (!o.equals("(null)") && !o.equals(driver)) {
      throw new IOException("No such device (driver_override is " + o + ")");
    }
    if (refuses.getOrDefault(driver, Set.of()).contains(address)) {
      throw new IOException("No such device (" + driver + " probe failed)");
    }
    Files.createSymbolicLink(dev.resolve("driver"), sys.resolve("bus/pci/drivers").resolve(driver));
    Path group = dev.resolve("iommu_group");
    if (driver.equals("vfio-pci") && Files.isSymbolicLink(group)) {
      // The group's character device, root's and 0600 as the kernel makes it (a plain file here; never removed).
      Path node = sys.getParent().resolve("dev/vfio").resolve(Files.readSymbolicLink(group).getFileName().toString());
      if (!Files.exists(node)) {
        Files.createDirectories(node.getParent());
        Files.createFile(node, PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rw-------")));
      }
    }
  }

  private void unbind(String address, String driver) throws IOException {
    if (!driverOf(address).equals(driver)) {
      throw new IOException("No such device (" + address + " is not bound to " + driver + ")");
    }
    if (stuck.contains(address)) {
      throw new IOException("Device or resource busy");
    }
    Files.delete(sys.resolve("bus/pci/devices").resolve(address).resolve("driver"));
  }
}
