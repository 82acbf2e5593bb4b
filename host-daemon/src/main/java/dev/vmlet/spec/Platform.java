package dev.vmlet.spec;

/**
 * The virtual hardware platform.
 *
 * @param machine "q35" (PCI Express, any boot source) or "microvm" (virtio-mmio devices, no PCI,
 *     direct kernel boot only; boots faster)
 * @param firmware "bios" (SeaBIOS; qboot on microvm) or "uefi" (OVMF, with a per-VM copy of the
 *     variable store; q35 only)
 * @param agentPort "virtio" (the virtio-serial port) or "serial" (a legacy 16550 UART, the guest's
 *     ttyS1, for guests without virtio drivers; q35 only)
 */
public record Platform(String machine, String firmware, String agentPort) {
  public static final Platform DEFAULT = new Platform("q35", "bios");

  public Platform(String machine, String firmware) {
    this(machine, firmware, "virtio");
  }

  public Platform {
    agentPort = agentPort == null || agentPort.isEmpty() ? "virtio" : agentPort;
    if (!agentPort.equals("virtio") && !agentPort.equals("serial")) {
      throw VmException.invalid("agent_port must be virtio or serial, got '" + agentPort + "'");
    }
    if (agentPort.equals("serial") && "microvm".equals(machine)) {
      throw VmException.invalid("agent_port serial needs machine q35 (it is the second ISA serial port)");
    }
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

  public boolean agentOnSerial() {
    return agentPort.equals("serial");
  }

  public boolean microvm() {
    return machine.equals("microvm");
  }
}
