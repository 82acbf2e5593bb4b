package dev.vmlet.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proto.v1.Accel;
import dev.vmlet.proto.v1.AgentPort;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.Firmware;
import dev.vmlet.proto.v1.Machine;
import dev.vmlet.proto.v1.Protocol;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.PortForward;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.spec.VmConfig;
import org.junit.jupiter.api.Test;
import dev.vmlet.proto.v1.GuestOs;
import dev.vmlet.proto.v1.ShareType;
import com.google.protobuf.UnknownFieldSet;

class VmSpecsTest {
  @Test
  void aFullSpec_survivesTheRoundTrip() {
    VmSpec spec = VmSpec.newBuilder().setName("web").setVcpus(2).setMemoryMib(1024).setImage("kernel").setAccel(Accel.ACCEL_TCG)
        .putLabels("role", "web").addDisks(DiskSpec.newBuilder().setName("data").setSizeMib(10).setEphemeral(true))
        .setBalloon(true).setHugepages(true).addCpuPinning(0).addCpuPinning(1).setMachine(Machine.MACHINE_MICROVM)
        .setFirmware(Firmware.FIRMWARE_BIOS).setAgentPort(AgentPort.AGENT_PORT_VIRTIO).setOs(GuestOs.GUEST_OS_LINUX)
        .setKernel(KernelBoot.newBuilder().setPath("/boot/vmlinuz").setInitrd("/boot/initrd").setCmdline("console=ttyS0"))
        .setTap("tap0").build();
    assertThat(VmSpecs.spec(VmSpecs.config(spec))).isEqualTo(spec);
  }

  @Test
  void aWindowsSpecWithA9pShareElsewhere_roundTrips_withWhatTheProfileImplies() {
    VmSpec spec = VmSpec.newBuilder().setName("w").setImage("/srv/win.qcow2").setOs(GuestOs.GUEST_OS_WINDOWS)
        .setDriversIso("/srv/virtio-win.iso").build();
    VmSpec back = VmSpecs.spec(VmSpecs.config(spec));
    assertThat(back.getOs()).isEqualTo(GuestOs.GUEST_OS_WINDOWS);
    assertThat(back.getTpm()).isTrue();
    assertThat(back.getFirmware()).isEqualTo(Firmware.FIRMWARE_UEFI);
    assertThat(back.getAgentPort()).isEqualTo(AgentPort.AGENT_PORT_SERIAL);
    assertThat(back.getDriversIso()).isEqualTo("/srv/virtio-win.iso");
    VmSpec ninep = VmSpec.newBuilder().setName("l").setImage("/srv/own.qcow2").setAccel(Accel.ACCEL_AUTO).setVcpus(1).setMemoryMib(512)
        .setMachine(Machine.MACHINE_Q35).setFirmware(Firmware.FIRMWARE_BIOS).setAgentPort(AgentPort.AGENT_PORT_VIRTIO)
        .setOs(GuestOs.GUEST_OS_LINUX).addShares(dev.vmlet.proto.v1.Share.newBuilder().setHostPath("/srv/w").setGuestPath("/mnt/w")
            .setType(ShareType.SHARE_TYPE_9P)).build();
    assertThat(VmSpecs.spec(VmSpecs.config(ninep)).getShares(0).getType()).isEqualTo(ShareType.SHARE_TYPE_9P);
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
    VmSpec spec = VmSpec.newBuilder().setName("a").setImage("micro").setAccel(Accel.ACCEL_AUTO).setVcpus(1).setMemoryMib(512)
        .setMachine(Machine.MACHINE_Q35).setFirmware(Firmware.FIRMWARE_UEFI).setAgentPort(AgentPort.AGENT_PORT_SERIAL)
        .setOs(GuestOs.GUEST_OS_LINUX).setTpm(true)
        .addForwards(PortForward.newBuilder().setProtocol(Protocol.PROTOCOL_UDP).setHostAddress("0.0.0.0").setHostPort(0).setGuestPort(53))
        .addGpus("0000:01:00.0").build();
    assertThat(VmSpecs.spec(VmSpecs.config(spec))).isEqualTo(spec);
  }

  @Test
  void aFieldThisDaemonDoesNotKnow_isRefusedNamingItsNumber() {
    VmSpec fromTheFuture = VmSpec.newBuilder().setName("a").setUnknownFields(UnknownFieldSet.newBuilder()
        .addField(99, UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build();
    assertThatThrownBy(() -> VmSpecs.config(fromTheFuture)).hasMessageContaining("spec has field number 99");
    VmSpec diskFromTheFuture = VmSpec.newBuilder().setName("a").addDisks(DiskSpec.newBuilder().setName("d").setSizeMib(1)
        .setUnknownFields(UnknownFieldSet.newBuilder()
            .addField(7, UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build())).build();
    assertThatThrownBy(() -> VmSpecs.config(diskFromTheFuture)).hasMessageContaining("spec.disks has field number 7");
  }

  @Test
  void anEnumValueThisDaemonDoesNotKnow_isRefusedNotTakenAsTheDefault() {
    VmSpec spec = VmSpec.newBuilder().setName("a").setFirmwareValue(7).build();
    assertThatThrownBy(() -> VmSpecs.config(spec)).hasMessageContaining("spec.firmware has the value number 7");
    VmSpec forward = VmSpec.newBuilder().setName("a").addForwards(PortForward.newBuilder().setProtocolValue(9).setGuestPort(80)).build();
    assertThatThrownBy(() -> VmSpecs.config(forward)).hasMessageContaining("spec.forwards.protocol has the value number 9");
  }

  @Test
  void unspecifiedEnums_getTheDomainDefaults() {
    VmConfig c = VmSpecs.config(VmSpec.newBuilder().setName("a")
        .addForwards(PortForward.newBuilder().setGuestPort(80)).build());
    assertThat(c.platform().machine()).isEqualTo("q35");
    assertThat(c.platform().firmware()).isEqualTo("bios");
    assertThat(c.platform().agentPort()).isEqualTo("virtio");
    assertThat(c.forwards().get(0).protocol()).isEqualTo("tcp");
  }

  @Test
  void aPortAboveIntRange_doesNotWrapIntoAValidOne() {
    VmSpec spec = VmSpec.newBuilder().setName("a").addForwards(PortForward.newBuilder().setHostPort(-1).setGuestPort(80)).build();
    assertThatThrownBy(() -> VmSpecs.config(spec)).hasMessageContaining("host_port");
  }

  @Test
  void credentialsProxyAndKeys_roundTrip_butWhatTheDaemonShowsHasNoSecrets() {
    VmConfig c = VmConfig.builder("a").image("debian")
        .credentials(java.util.List.of(new dev.vmlet.spec.Credential("db.password", "hunter2".getBytes(java.nio.charset.StandardCharsets.UTF_8))))
        .httpProxy("http://u:pw@10.0.2.2:3128")
        .cloudInit(dev.vmlet.spec.CloudInitConfig.of("", java.util.List.of("ssh-ed25519 AAAA k1", "ssh-rsa BBBB k2", "ssh-ed25519 AAAA k1")))
        .build();
    VmSpec sent = VmSpecs.spec(c);
    assertThat(sent.getCloudInit().getSshAuthorizedKey()).isEqualTo("ssh-ed25519 AAAA k1");
    assertThat(sent.getCloudInit().getSshAuthorizedKeysList()).containsExactly("ssh-rsa BBBB k2");
    assertThat(VmSpecs.config(sent)).isEqualTo(c);
    VmSpec shown = VmSpecs.shown(c);
    assertThat(shown.getCredentials(0).getName()).isEqualTo("db.password");
    assertThat(shown.getCredentials(0).getValue().isEmpty()).isTrue();
    assertThat(shown.getHttpProxy()).isEqualTo("http://***@10.0.2.2:3128");
    assertThat(shown.toString()).doesNotContain("hunter2").doesNotContain("pw@");
  }
}
