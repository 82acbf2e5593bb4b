package dev.vmlet.vfio;

import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Checks that the PCI devices a VM passes through exist and are bound to vfio-pci, reading sysfs
 * under an injectable root. Binding is not done here.
 */
public final class VfioDevices {
  private final Path sysRoot;

  /** @param sysRoot "/" on a real host; a fake tree in tests */
  public VfioDevices(Path sysRoot) {
    this.sysRoot = sysRoot;
  }

  /** @throws VmException FAILED_PRECONDITION naming the first device that cannot be passed through, and why */
  public void require(List<PciAddress> devices) {
    for (PciAddress a : devices) {
      Path dev = sysRoot.resolve("sys/bus/pci/devices").resolve(a.value());
      if (!Files.isDirectory(dev)) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION,
            "gpus: there is no PCI device " + a + " on this host (see lspci -D)");
      }
      String driver = driver(dev);
      if (!driver.equals("vfio-pci")) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, "gpus: " + a + " is "
            + (driver.isEmpty() ? "bound to no driver" : "bound to " + driver)
            + ", not vfio-pci; bind it to vfio-pci first (and every device in its IOMMU group)");
      }
    }
  }

  private static String driver(Path dev) {
    Path link = dev.resolve("driver");
    try {
      return Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : "";
    } catch (IOException e) {
      return "";
    }
  }
}
