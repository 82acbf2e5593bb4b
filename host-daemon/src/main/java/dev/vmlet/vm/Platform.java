package dev.vmlet.vm;

/**
 * The virtual hardware platform.
 *
 * @param machine "q35" (PCI Express, any boot source) or "microvm" (virtio-mmio devices, no PCI,
 *     direct kernel boot only; boots faster)
 * @param firmware "bios" (SeaBIOS; qboot on microvm) or "uefi" (OVMF, with a per-VM copy of the
 *     variable store; q35 only)
 */
public record Platform(String machine, String firmware) {
  public static final Platform DEFAULT = new Platform("q35", "bios");

  public Platform {
    machine = machine == null || machine.isEmpty() ? "q35" : machine;
    firmware = firmware == null || firmware.isEmpty() ? "bios" : firmware;
    if (!machine.equals("q35") && !machine.equals("microvm")) {
      throw VmException.invalid("machine must be q35 or microvm, got '" + machine + "'");
    }
    if (!firmware.equals("bios") && !firmware.equals("uefi")) {
      throw VmException.invalid("firmware must be bios or uefi, got '" + firmware + "'");
    }
    if (machine.equals("microvm") && firmware.equals("uefi")) {
      throw VmException.invalid("firmware uefi needs machine q35 (microvm has no UEFI firmware)");
    }
  }

  public boolean microvm() {
    return machine.equals("microvm");
  }
}
