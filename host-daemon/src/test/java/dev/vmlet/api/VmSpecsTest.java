package dev.vmlet.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.PortForward;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.spec.VmConfig;
import org.junit.jupiter.api.Test;

class VmSpecsTest {
  @Test
  void aFullSpec_survivesTheRoundTrip() {
    VmSpec spec = VmSpec.newBuilder().setName("web").setVcpus(2).setMemoryMib(1024).setImage("kernel").setAccel("tcg")
        .putLabels("role", "web").addDisks(DiskSpec.newBuilder().setName("data").setSizeMib(10).setEphemeral(true))
        .setBalloon(true).setHugepages(true).addCpuPinning(0).addCpuPinning(1).setMachine("microvm").setFirmware("bios").setAgentPort("virtio")
        .setKernel(KernelBoot.newBuilder().setPath("/boot/vmlinuz").setInitrd("/boot/initrd").setCmdline("console=ttyS0"))
        .setTap("tap0").build();
    assertThat(VmSpecs.spec(VmSpecs.config(spec))).isEqualTo(spec);
  }

  @Test
  void unsetFields_getTheDefaults() {
    VmConfig c = VmSpecs.config(VmSpec.newBuilder().setName("a").build());
    assertThat(c).isEqualTo(new VmConfig("a", 1, 512, "micro", "auto"));
    assertThat(VmSpecs.config(VmSpec.newBuilder().setName("a").setKernel(KernelBoot.newBuilder().setPath("/k")).build()).image())
        .isEqualTo("kernel");
  }

  @Test
  void forwardsAndGpus_roundTrip() {
    VmSpec spec = VmSpec.newBuilder().setName("a").setImage("micro").setAccel("auto").setVcpus(1).setMemoryMib(512)
        .setMachine("q35").setFirmware("uefi").setAgentPort("serial")
        .addForwards(PortForward.newBuilder().setProtocol("udp").setHostAddress("0.0.0.0").setHostPort(0).setGuestPort(53))
        .addGpus("0000:01:00.0").build();
    assertThat(VmSpecs.spec(VmSpecs.config(spec))).isEqualTo(spec);
  }

  @Test
  void aFieldThisDaemonDoesNotKnow_isRefusedNamingItsNumber() {
    VmSpec fromTheFuture = VmSpec.newBuilder().setName("a").setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder()
        .addField(99, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build();
    assertThatThrownBy(() -> VmSpecs.config(fromTheFuture)).hasMessageContaining("spec has field number 99");
    VmSpec diskFromTheFuture = VmSpec.newBuilder().setName("a").addDisks(DiskSpec.newBuilder().setName("d").setSizeMib(1)
        .setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder()
            .addField(7, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build())).build();
    assertThatThrownBy(() -> VmSpecs.config(diskFromTheFuture)).hasMessageContaining("spec.disks has field number 7");
  }

  @Test
  void aPortAboveIntRange_doesNotWrapIntoAValidOne() {
    VmSpec spec = VmSpec.newBuilder().setName("a").addForwards(PortForward.newBuilder().setHostPort(-1).setGuestPort(80)).build();
    assertThatThrownBy(() -> VmSpecs.config(spec)).hasMessageContaining("host_port");
  }
}
