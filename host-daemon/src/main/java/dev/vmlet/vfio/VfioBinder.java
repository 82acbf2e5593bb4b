package dev.vmlet.vfio;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Moves PCI functions to vfio-pci and back. Before anything is written the original drivers go
 * into the {@link GpuLedger}; a bind that fails halfway puts every function it touched back on its
 * original driver before the error is reported.
 */
public final class VfioBinder {
  private static final Logger LOG = Logger.getLogger(VfioBinder.class.getName());
  private final PciBus bus;
  private final GpuLedger ledger;

  public VfioBinder(PciBus bus, GpuLedger ledger) {
    this.bus = bus;
    this.ledger = ledger;
  }

  /**
   * Whether the functions can go to a VM together: each exists, the IOMMU groups they are in hold
   * nothing else that is bound to a host driver (bridges aside), and vfio-pci is loaded.
   *
   * @throws VfioException saying what to do
   */
  public void checkViable(List<PciDevice> taking) throws IOException {
    if (!bus.driverLoaded(PciBus.VFIO)) {
      throw new VfioException("the vfio-pci driver is not loaded; run: modprobe vfio-pci (and add vfio-pci to /etc/modules-load.d/vfio.conf)");
    }
    List<String> addresses = taking.stream().map(PciDevice::address).toList();
    for (PciDevice d : taking) {
      if (d.iommuGroup().isEmpty()) {
        throw new VfioException(d.address() + " is in no IOMMU group: the IOMMU is off; enable it in the firmware and add "
            + "intel_iommu=on iommu=pt (Intel) or amd_iommu=on iommu=pt (AMD) to the kernel command line");
      }
      for (String member : d.groupMembers()) {
        if (addresses.contains(member)) {
          continue;
        }
        PciDevice m = bus.find(member).orElseThrow(() -> new VfioException("IOMMU group " + d.iommuGroup() + " lists " + member
            + ", which sysfs does not have"));
        if (m.isBound() && !m.driver().equals(PciBus.VFIO) && !m.isBridge()) {
          throw new VfioException("IOMMU group " + d.iommuGroup() + " of " + d.address() + " also holds " + member + " (class "
              + m.pciClass() + ", driver " + m.driver() + "): a group goes to a VM whole; pass " + member
              + " through too, or unbind it from " + m.driver() + ", or move the card to a slot with its own group");
        }
      }
    }
  }

  /**
   * Gives the functions to vfio-pci for {@code holder}; the ledger says what they had.
   *
   * @throws VfioException when a step fails; every function is then back where it was
   */
  public void passthrough(String holder, List<PciDevice> taking) throws IOException {
    checkViable(taking);
    Map<String, GpuLedger.Entry> record = new LinkedHashMap<>();
    for (PciDevice d : taking) {
      GpuLedger.Entry held = ledger.get(d.address());
      if (held != null && !held.holder().equals(holder)) {
        throw new VfioException(d.address() + " is held by " + held.holder() + "; stop it (or vmlet gpu reclaim " + d.address()
            + ") first");
      }
      // A function already on vfio-pci that vmlet did not put there keeps "vfio-pci" as its original.
      record.put(d.address(), new GpuLedger.Entry(held != null ? held.originalDriver() : d.driver(), holder));
    }
    ledger.put(record);
    List<PciDevice> touched = new ArrayList<>();
    try {
      for (PciDevice d : taking) {
        touched.add(d);
        toVfio(d);
      }
    } catch (IOException e) {
      for (PciDevice d : touched) {
        try {
          restore(d.address(), record.get(d.address()).originalDriver());
          ledger.remove(d.address());
        } catch (IOException again) {
          LOG.severe("cannot give " + d.address() + " back to " + record.get(d.address()).originalDriver() + ": " + again.getMessage()
              + "; it stays in the ledger for the next reclaim");
        }
      }
      for (PciDevice d : taking) {
        if (!touched.contains(d)) {
          ledger.remove(d.address());
        }
      }
      throw new VfioException("binding " + touched.get(touched.size() - 1).address() + " to vfio-pci failed (" + e.getMessage()
          + "); every device was given back to its driver", e);
    }
  }

  private void toVfio(PciDevice d) throws IOException {
    PciDevice now = bus.find(d.address()).orElseThrow(() -> new VfioException(d.address() + " went away"));
    if (now.driver().equals(PciBus.VFIO)) {
      return;
    }
    bus.setOverride(d.address(), PciBus.VFIO);
    if (now.isBound()) {
      bus.unbind(d.address(), now.driver());
    }
    bus.bind(d.address(), PciBus.VFIO);
  }

  /**
   * Gives a function back to the driver the ledger recorded, and forgets it.
   *
   * @throws IOException when the kernel refuses; the ledger keeps it for the next try
   */
  public void reclaim(String address) throws IOException {
    GpuLedger.Entry e = ledger.get(address);
    if (e == null) {
      throw new VfioException(address + " was not passed through by vmlet (nothing in the ledger); nothing to give back");
    }
    restore(address, e.originalDriver());
    ledger.remove(address);
    LOG.info(address + " given back to " + (e.originalDriver().isEmpty() ? "no driver" : e.originalDriver()) + " (was held by "
        + e.holder() + ")");
  }

  private void restore(String address, String original) throws IOException {
    PciDevice now = bus.find(address).orElseThrow(() -> new VfioException(address + " went away"));
    if (original.equals(PciBus.VFIO)) {
      return; // it was on vfio-pci before vmlet came
    }
    if (now.isBound() && !now.driver().equals(original)) {
      bus.unbind(address, now.driver());
    }
    bus.setOverride(address, "");
    if (!original.isEmpty() && !bus.find(address).map(PciDevice::isBound).orElse(false)) {
      bus.bind(address, original);
    }
  }
}
