package dev.vmlet.vfio;

import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;
import java.nio.file.Files;

/**
 * The host's GPUs for VMs: discovery (display functions and their companions on the same slot),
 * giving them to a VM when it starts and back when it ends, and after a daemon restart giving back
 * what a VM that no longer runs still holds. An optional hook script runs before a passthrough and
 * after a give-back ({@code HOOK before|after HOLDER ADDRESS...}), e.g. to stop and start a display
 * manager on a single-GPU host.
 */
public final class Gpus {
  private static final Logger LOG = Logger.getLogger(Gpus.class.getName());
  public static final String MANUAL = "manual";
  static final Duration HOOK_TIMEOUT = Duration.ofSeconds(60);

  /** A GPU or one of its companions, with who holds it (empty: the host). */
  public record Gpu(PciDevice device, boolean companion, String holder) {}

  private final PciBus bus;
  private final GpuLedger ledger;
  private final VfioBinder binder;
  private final Path hook;
  private final ProcessRunner runner;

  public Gpus(PciBus bus, GpuLedger ledger, Path hook) {
    this(bus, ledger, hook, ProcessRunner.system());
  }

  /** With the hook run by {@code runner}. */
  public Gpus(PciBus bus, GpuLedger ledger, Path hook, ProcessRunner runner) {
    this.bus = bus;
    this.ledger = ledger;
    this.binder = new VfioBinder(bus, ledger);
    this.hook = hook;
    this.runner = runner;
  }

  public PciBus bus() {
    return bus;
  }

  /** Display functions and the other functions of their slots, sorted by address. */
  public synchronized List<Gpu> list() throws IOException {
    List<PciDevice> all = bus.list();
    Set<String> slots = new LinkedHashSet<>();
    all.stream().filter(PciDevice::isDisplay).forEach(d -> slots.add(d.slot()));
    List<Gpu> out = new ArrayList<>();
    Map<String, GpuLedger.Entry> held = ledger.entries();
    for (PciDevice d : all) {
      if (slots.contains(d.slot())) {
        GpuLedger.Entry e = held.get(d.address());
        out.add(new Gpu(d, !d.isDisplay(), e == null ? "" : e.holder()));
      }
    }
    return out;
  }

  /** The functions a VM gets for the addresses it asked for: each and the other functions of its slot. */
  public synchronized List<PciDevice> expand(List<String> addresses) throws IOException {
    List<PciDevice> all = bus.list();
    Set<String> out = new LinkedHashSet<>();
    for (String a : addresses) {
      PciDevice d = all.stream().filter(x -> x.address().equals(a)).findFirst()
          .orElseThrow(() -> new VfioException("there is no PCI device " + a + " on this host (see vmlet gpu status, or lspci -D)"));
      out.add(d.address());
      all.stream().filter(x -> x.slot().equals(d.slot())).forEach(x -> out.add(x.address()));
    }
    List<PciDevice> devices = new ArrayList<>();
    for (String a : out) {
      devices.add(bus.find(a).orElseThrow());
    }
    return devices;
  }

  /** Checks without touching anything that the addresses could be given to a VM now. */
  public synchronized void check(List<String> addresses) throws IOException {
    binder.checkViable(expand(addresses));
  }

  /** Gives the GPUs (with companions) to {@code holder}; on failure nothing stays moved. */
  public synchronized List<PciDevice> take(String holder, List<String> addresses) throws IOException {
    List<PciDevice> devices = expand(addresses);
    for (PciDevice d : devices) {
      GpuLedger.Entry e = ledger.get(d.address());
      if (e != null && !e.holder().equals(holder)) {
        throw new VfioException(d.address() + " is held by " + (e.holder().equals(MANUAL) ? "a manual passthrough (vmlet gpu reclaim "
            + d.address() + ")" : "VM '" + e.holder() + "'; stop that VM first"));
      }
    }
    binder.checkViable(devices);
    runHook("before", holder, devices.stream().map(PciDevice::address).toList(), true);
    try {
      binder.passthrough(holder, devices);
    } catch (IOException e) {
      runHook("after", holder, devices.stream().map(PciDevice::address).toList(), false);
      throw e;
    }
    LOG.info("gave " + devices.stream().map(PciDevice::address).toList() + " to " + holder + " (vfio-pci)");
    return devices;
  }

  /**
   * The IOMMU group devices QEMU opens for these functions (taken, so bound to vfio-pci), one per group.
   *
   * @throws VfioException when a group's device is missing although its functions are on vfio-pci
   */
  public List<Path> groupDevices(List<PciDevice> devices) throws VfioException {
    List<Path> out = new ArrayList<>();
    for (String g : devices.stream().map(PciDevice::iommuGroup).filter(g -> !g.isEmpty()).distinct().toList()) {
      Path dev = bus.vfioGroupDevice(g);
      if (!Files.exists(dev)) {
        throw new VfioException(dev + " does not exist although IOMMU group " + g + " is bound to vfio-pci; is the vfio module loaded?"
            + " (modprobe vfio-pci)");
      }
      out.add(dev);
    }
    return out;
  }

  /** Gives back everything {@code holder} has; what cannot be given back stays in the ledger. */
  public synchronized void giveBack(String holder) {
    List<String> mine = ledger.entries().entrySet().stream().filter(e -> e.getValue().holder().equals(holder))
        .map(Map.Entry::getKey).sorted().toList();
    if (mine.isEmpty()) {
      return;
    }
    for (String a : mine) {
      try {
        binder.reclaim(a);
      } catch (IOException e) {
        LOG.severe("cannot give " + a + " back from " + holder + ": " + e.getMessage() + "; try: vmlet gpu reclaim " + a);
      }
    }
    try {
      runHook("after", holder, mine, false);
    } catch (VfioException e) {
      LOG.warning(e.getMessage());
    }
  }

  /** Manual: {@code vmlet gpu reclaim ADDR}, whoever held it (its VM must not run: the caller checks). */
  public synchronized void reclaim(String address) throws IOException {
    binder.reclaim(address);
  }

  /** After a daemon start: gives back what holders that do not run any more still hold. */
  public synchronized void recover(Set<String> running) {
    Set<String> holders = new LinkedHashSet<>();
    ledger.entries().values().forEach(e -> holders.add(e.holder()));
    for (String h : holders) {
      if (!h.equals(MANUAL) && !running.contains(h)) {
        LOG.warning("VM '" + h + "' does not run but holds GPUs: giving them back");
        giveBack(h);
      }
    }
  }

  /** Who holds the function; null when the host does. */
  public String holder(String address) {
    GpuLedger.Entry e = ledger.get(address);
    return e == null ? null : e.holder();
  }

  private void runHook(String when, String holder, List<String> addresses, boolean mustSucceed) throws VfioException {
    if (hook == null) {
      return;
    }
    List<String> argv = new ArrayList<>(List.of(hook.toString(), when, holder));
    argv.addAll(addresses);
    try {
      runner.run(ProcessRequest.of(HOOK_TIMEOUT, argv).withStderrMerged()).requireSuccess();
    } catch (InterruptedIOException e) {
      throw new VfioException("interrupted while running the GPU hook", e);
    } catch (IOException e) {
      String msg = "the GPU hook (" + when + " " + holder + ") failed: " + e.getMessage();
      if (mustSucceed) {
        throw new VfioException(msg + "; nothing was passed through", e);
      }
      LOG.warning(msg);
    }
  }
}
