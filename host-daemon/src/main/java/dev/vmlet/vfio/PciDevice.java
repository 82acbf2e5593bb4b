package dev.vmlet.vfio;

import java.util.List;

/**
 * A PCI function as sysfs shows it.
 *
 * @param address domain:bus:slot.function, e.g. 0000:01:00.0
 * @param vendor e.g. 0x10de
 * @param device e.g. 0x2484
 * @param pciClass e.g. 0x030000 (VGA)
 * @param driver the bound driver's name; empty when unbound
 * @param driverOverride what driver_override says; empty when unset
 * @param iommuGroup the group's number; empty without an IOMMU
 * @param groupMembers every function in the group, this one included, sorted
 * @param numaNode -1 when the host has one node
 */
public record PciDevice(String address, String vendor, String device, String pciClass, String driver, String driverOverride,
    String iommuGroup, List<String> groupMembers, int numaNode) {
  public PciDevice {
    groupMembers = List.copyOf(groupMembers);
  }

  /** Display controllers (class 0x03): VGA, 3D, other. */
  public boolean isDisplay() {
    return pciClass.startsWith("0x03");
  }

  /** PCI-to-PCI bridges, which may stay in a group that is passed through. */
  public boolean isBridge() {
    return pciClass.startsWith("0x0604");
  }

  /** domain:bus:slot, shared by the functions of one card (the GPU and its HDMI audio). */
  public String slot() {
    return address.substring(0, address.lastIndexOf('.'));
  }

  public boolean isBound() {
    return !driver.isEmpty();
  }
}
