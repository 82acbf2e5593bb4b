package dev.vmlet.spec;

/**
 * The virtual hardware platform.
 *
 * @param machine "q35" (PCI Express, any boot source) or "microvm" (virtio-mmio devices, no PCI,
 *     direct kernel boot only; boots faster)
 * @param firmware "bios" (SeaBIOS; qboot on microvm) or "uefi" (OVMF, with a per-VM copy of the
 *     variable store; q35 only); empty: bios, or uefi for os windows
 * @param agentPort "virtio" (the virtio-serial port) or "serial" (a legacy 16550 UART, the guest's
 *     ttyS1 or COM2, for guests without virtio drivers; q35 only); empty: virtio, or serial for os windows
 * @param os "linux" (the default) or "windows": the guest profile; windows adds the Hyper-V
 *     enlightenments, Secure Boot firmware and a TPM, and puts the agent on COM2
 * @param tpm a TPM 2.0 (swtpm, started and stopped with the VM; its state kept in the VM's state
 *     directory); always on for os windows; q35 only
 * @param driversIso the absolute host path of a drivers ISO (virtio-win) attached as a CD-ROM, or
 *     empty; os windows only
 */
public record Platform(String machine, String firmware, String agentPort, String os, boolean tpm, String driversIso) {
  public static final Platform DEFAULT = new Platform("q35", "bios");

  public Platform(String machine, String firmware) {
    this(machine, firmware, "virtio");
  }

  public Platform(String machine, String firmware, String agentPort) {
    this(machine, firmware, agentPort, "linux", false, "");
  }

  public Platform {
    os = os == null || os.isEmpty() ? "linux" : os;
    if (!os.equals("linux") && !os.equals("windows")) {
      throw VmException.invalid("os must be linux or windows, got '" + os + "'");
    }
    boolean windows = os.equals("windows");
    if (windows && "microvm".equals(machine)) {
      throw VmException.invalid("os windows needs machine q35 (Windows has no virtio-mmio drivers)");
    }
    agentPort = agentPort == null || agentPort.isEmpty() ? (windows ? "serial" : "virtio") : agentPort;
    if (!agentPort.equals("virtio") && !agentPort.equals("serial")) {
      throw VmException.invalid("agent_port must be virtio or serial, got '" + agentPort + "'");
    }
    if (agentPort.equals("serial") && "microvm".equals(machine)) {
      throw VmException.invalid("agent_port serial needs machine q35 (it is the second ISA serial port)");
    }
    machine = machine == null || machine.isEmpty() ? "q35" : machine;
    firmware = firmware == null || firmware.isEmpty() ? (windows ? "uefi" : "bios") : firmware;
    if (!machine.equals("q35") && !machine.equals("microvm")) {
      throw VmException.invalid("machine must be q35 or microvm, got '" + machine + "'");
    }
    if (!firmware.equals("bios") && !firmware.equals("uefi")) {
      throw VmException.invalid("firmware must be bios or uefi, got '" + firmware + "'");
    }
    if (machine.equals("microvm") && firmware.equals("uefi")) {
      throw VmException.invalid("firmware uefi needs machine q35 (microvm has no UEFI firmware)");
    }
    driversIso = driversIso == null ? "" : driversIso;
    if (windows) {
      checkWindows(firmware, agentPort);
    } else if (!driversIso.isEmpty()) {
      throw VmException.invalid("drivers_iso goes with os windows (it is the virtio-win drivers CD-ROM); leave it out for os "
          + os);
    }
    tpm = tpm || windows;
    if (tpm && machine.equals("microvm")) {
      throw VmException.invalid("tpm needs machine q35 (the TPM is a TIS device on the ISA bus, which microvm lacks)");
    }
    if (!driversIso.isEmpty() && (!driversIso.startsWith("/") || driversIso.contains("\n"))) {
      throw VmException.invalid("drivers_iso must be the absolute path of an ISO on the daemon's host, got '" + driversIso + "'");
    }
  }

  private static void checkWindows(String firmware, String agentPort) {
    if (!firmware.equals("uefi")) {
      throw VmException.invalid("os windows boots with UEFI and Secure Boot (Windows 11 requires them): leave firmware out or give uefi,"
          + " not " + firmware);
    }
    if (!agentPort.equals("serial")) {
      throw VmException.invalid("os windows: the Windows agent opens its COM port (agent_port serial); leave agent_port out or give"
          + " serial, not " + agentPort);
    }
  }

  public boolean agentOnSerial() {
    return agentPort.equals("serial");
  }

  public boolean microvm() {
    return machine.equals("microvm");
  }

  public boolean windows() {
    return os.equals("windows");
  }
}
