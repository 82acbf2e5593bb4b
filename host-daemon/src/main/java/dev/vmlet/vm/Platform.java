package dev.vmlet.vm;

/**
 * The virtual hardware platform.
 *
 * @param machine "q35" (the only machine type of this version)
 * @param firmware "bios" (SeaBIOS) or "uefi" (OVMF, with a per-VM copy of the variable store)
 */
public record Platform(String machine, String firmware) {
  public static final Platform DEFAULT = new Platform("q35", "bios");

  public Platform {
    machine = machine == null || machine.isEmpty() ? "q35" : machine;
    firmware = firmware == null || firmware.isEmpty() ? "bios" : firmware;
    if (!machine.equals("q35")) {
      throw VmException.invalid("machine must be q35 (microvm is not supported yet), got '" + machine + "'");
    }
    if (!firmware.equals("bios") && !firmware.equals("uefi")) {
      throw VmException.invalid("firmware must be bios or uefi, got '" + firmware + "'");
    }
  }
}
