package dev.vmlet.api;

import dev.vmlet.proto.v1.GuestInfo;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.spec.TemplateInfo;
import dev.vmlet.spec.VmException;

/** Templates between the domain and the API. */
final class TemplateProtos {
  private TemplateProtos() {}

  static Template template(TemplateInfo t) {
    return Template.newBuilder().setName(t.name()).setSourceVm(t.sourceVm()).setImage(t.image()).setVcpus(t.vcpus())
        .setMemoryMib(t.memoryMib()).setQemuVersion(t.qemuVersion()).setCreatedAtMs(t.createdAtMs())
        .setStateBytes(t.stateBytes()).setSizeBytes(t.sizeBytes())
        .setGuest(GuestInfo.newBuilder().setOsRelease(t.guestOs()).setKernel(t.guestKernel()).setHostname(t.guestHostname()))
        .setAgentWarmUpExecs(t.agentWarmUpExecs()).addAllClones(t.clones()).build();
  }

  /** A clone's machine is the template's: the spec may name, label and forward only. */
  static void refuseBootFields(VmSpec s) {
    String given = !s.getImage().isEmpty() ? "image" : s.getDisksCount() > 0 ? "disks" : s.hasKernel() ? "kernel"
        : s.getGpusCount() > 0 ? "gpus" : s.getSharesCount() > 0 ? "shares" : !s.getTap().isEmpty() ? "tap"
        : s.hasCloudInit() ? "cloud_init" : s.getMachineValue() != 0 ? "machine" : s.getFirmwareValue() != 0 ? "firmware" : null;
    if (given != null) {
      throw VmException.invalid("spec." + given + " cannot be given with a template: a clone resumes the template's machine"
          + " (its image, disks and devices); give only name, labels, forwards (and vcpus, memory_mib equal to the template's)");
    }
  }
}
