package dev.vmlet.spec;

import java.util.List;

/**
 * A template: the saved machine state and frozen disks of a VM whose agent was ready, which new
 * VMs (clones) resume from instead of booting.
 *
 * @param name as VM names: lower-case letters, digits and '-'
 * @param sourceVm the VM it was made from
 * @param image that VM's boot source ("micro", "kernel")
 * @param vcpus a clone must have as many
 * @param memoryMib a clone must have as much
 * @param machine the QEMU machine type ("q35", "microvm")
 * @param qemuVersion the QEMU that saved it; another version cannot load it
 * @param createdAtMs when it was saved (Unix ms)
 * @param stateBytes the saved device state (with the RAM when the template keeps no memory file)
 * @param sizeBytes what the template's directory takes on disk: state, the memory file's allocated blocks, disks
 * @param guestOs, guestKernel, guestHostname what the agent reported when it was saved
 * @param agentWarmUpExecs the execs of {@code true} run in its agent before the save (0: not warmed; older templates)
 * @param clones the VMs made from it that still exist
 */
public record TemplateInfo(String name, String sourceVm, String image, int vcpus, long memoryMib, String machine,
    String qemuVersion, long createdAtMs, long stateBytes, long sizeBytes, String guestOs, String guestKernel,
    String guestHostname, int agentWarmUpExecs, List<String> clones) {
  public TemplateInfo {
    clones = clones == null ? List.of() : List.copyOf(clones);
  }

  public TemplateInfo withSize(long size, List<String> users) {
    return new TemplateInfo(name, sourceVm, image, vcpus, memoryMib, machine, qemuVersion, createdAtMs, stateBytes, size,
        guestOs, guestKernel, guestHostname, agentWarmUpExecs, users);
  }
}
