package dev.vmlet.qemu;

import java.util.List;

/**
 * What QEMU gives a Windows guest beyond a Linux one: the Hyper-V enlightenments Windows uses when
 * it finds them (fewer exits for timers, spinlocks and APIC access) and a clock in local time.
 * The firmware (Secure Boot), the TPM and the agent's COM port are chosen by the platform, not here.
 */
final class WindowsProfile {
  /**
   * Accepted under TCG as under KVM. hv_spinlocks=0x1fff: retry a spinlock 8191 times before telling
   * the hypervisor (libvirt's and Proxmox's value).
   */
  static final String HV_COMMON = "hv_relaxed,hv_spinlocks=0x1fff,hv_vapic,hv_time,hv_runtime,hv_reset,hv_frequencies";
  /**
   * KVM only: QEMU 7.2 refuses hv_vpindex without KVM ("kernel doesn't allow setting HyperV VP_INDEX"),
   * and synthetic interrupts, timers, TLB flushes and IPIs all need it.
   */
  static final String HV_KVM = "hv_vpindex,hv_synic,hv_stimer,hv_tlbflush,hv_ipi";

  private WindowsProfile() {}

  /** The vCPU model: the host's under KVM; under TCG "max" (less ERMS and FSRM), which has what Windows 11 checks for (SSE4.2, POPCNT). */
  static String cpu(String accel) {
    String base = QemuCommandBuilder.cpuModel(accel) + "," + HV_COMMON;
    return accel.equals("kvm") ? base + "," + HV_KVM : base;
  }

  /** Windows keeps the real-time clock in local time. */
  static List<String> clock() {
    return List.of("-rtc", "base=localtime");
  }
}
