package dev.vmlet.api;

import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.spec.CloudInitConfig;
import dev.vmlet.spec.Credential;
import dev.vmlet.spec.GuestSettings;
import com.google.protobuf.ByteString;
import dev.vmlet.spec.DirectBoot;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.Network;
import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.Platform;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.RestartPolicy;
import dev.vmlet.spec.Share;
import dev.vmlet.spec.Tuning;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import java.util.List;
import com.google.protobuf.UnknownFieldSet;
import dev.vmlet.proto.v1.CloudInit;

/**
 * The one conversion between {@link VmSpec} on the wire and {@link VmConfig} in the domain, used
 * by the service and by the CLI (which validates before it sends).
 */
public final class VmSpecs {
  private VmSpecs() {}

  /**
   * @throws dev.vmlet.spec.VmException INVALID_ARGUMENT naming the first bad field, or the number of a
   *     field this daemon does not know (a newer client's option must not be silently dropped)
   */
  public static VmConfig config(VmSpec s) {
    refuseUnknown("spec", s.getUnknownFields());
    s.getDisksList().forEach(d -> refuseUnknown("spec.disks", d.getUnknownFields()));
    s.getForwardsList().forEach(f -> refuseUnknown("spec.forwards", f.getUnknownFields()));
    s.getSharesList().forEach(f -> refuseUnknown("spec.shares", f.getUnknownFields()));
    s.getCredentialsList().forEach(f -> refuseUnknown("spec.credentials", f.getUnknownFields()));
    refuseUnknown("spec.kernel", s.getKernel().getUnknownFields());
    refuseUnknown("spec.cloud_init", s.getCloudInit().getUnknownFields());
    List<PortForward> forwards = s.getForwardsList().stream().map(f -> {
      String protocol = ApiEnums.known("spec.forwards.protocol", f.getProtocol(), f.getProtocolValue());
      return new PortForward(protocol.isEmpty() ? "tcp" : protocol, f.getHostAddress().isEmpty() ? "127.0.0.1" : f.getHostAddress(),
          unsigned(f.getHostPort()), unsigned(f.getGuestPort()));
    }).toList();
    List<DiskConfig> disks = s.getDisksList().stream()
        .map(d -> new DiskConfig(d.getName(), d.getBaseImage(), d.getSizeMib(), d.getEphemeral())).toList();
    return VmConfig.builder(s.getName())
        // proto3: 0 is "unset"
        .vcpus(s.getVcpus() == 0 ? VmConfig.DEFAULT_VCPUS : unsigned(s.getVcpus()))
        .memoryMib(s.getMemoryMib() == 0 ? VmConfig.DEFAULT_MEMORY_MIB : s.getMemoryMib())
        .image(s.getImage())
        .accel(ApiEnums.known("spec.accel", s.getAccel(), s.getAccelValue()))
        .forwards(forwards)
        .labels(s.getLabelsMap())
        .disks(disks)
        .tuning(new Tuning(s.getBalloon(), s.getHugepages(), s.getCpuPinningList().stream().map(VmSpecs::unsigned).toList()))
        .platform(new Platform(ApiEnums.known("spec.machine", s.getMachine(), s.getMachineValue()),
            ApiEnums.known("spec.firmware", s.getFirmware(), s.getFirmwareValue()),
            ApiEnums.known("spec.agent_port", s.getAgentPort(), s.getAgentPortValue()),
            ApiEnums.known("spec.os", s.getOs(), s.getOsValue()), s.getTpm(), s.getDriversIso()))
        .directBoot(s.hasKernel() ? new DirectBoot(s.getKernel().getPath(), s.getKernel().getInitrd(), s.getKernel().getCmdline()) : null)
        .network(new Network(s.getTap()))
        .gpus(s.getGpusList().stream().map(PciAddress::new).toList())
        .cloudInit(new CloudInitConfig(s.getCloudInit().getUserData(), s.getCloudInit().getSshAuthorizedKey(),
            s.getCloudInit().getSshAuthorizedKeysList()))
        .shares(s.getSharesList().stream().map(h -> new Share(h.getHostPath(), h.getGuestPath(), h.getReadOnly(),
            ApiEnums.known("spec.shares.type", h.getType(), h.getTypeValue()))).toList())
        .credentials(s.getCredentialsList().stream().map(c -> new Credential(c.getName(), c.getValue().toByteArray())).toList())
        .httpProxy(s.getHttpProxy())
        .restart(restart(ApiEnums.known("spec.restart", s.getRestart(), s.getRestartValue())))
        .build();
  }

  private static RestartPolicy restart(String word) {
    return word.isEmpty() ? RestartPolicy.NO : RestartPolicy.parse(word.replace('_', '-'));
  }

  private static void refuseUnknown(String where, UnknownFieldSet unknown) {
    if (!unknown.asMap().isEmpty()) {
      throw VmException.invalid(where + " has field number " + unknown.asMap().keySet().iterator().next()
          + ", which this daemon does not know; upgrade the daemon or leave that option out");
    }
  }

  /** uint32 on the wire: a value above int range must not wrap into a valid-looking number. */
  private static int unsigned(int wire) {
    return wire < 0 ? Integer.MAX_VALUE : wire;
  }

  public static VmSpec spec(VmConfig c) {
    VmSpec.Builder b = VmSpec.newBuilder().setName(c.name()).setVcpus(c.vcpus()).setMemoryMib(c.memoryMib())
        .setImage(c.image()).setAccel(ApiEnums.accel(c.accel())).addAllForwards(c.forwards().stream().map(VmSpecs::forward).toList())
        .putAllLabels(c.labels())
        .addAllDisks(c.disks().stream().map(d -> DiskSpec.newBuilder().setName(d.name())
            .setBaseImage(d.baseImage()).setSizeMib(d.sizeMib()).setEphemeral(d.ephemeral()).build()).toList())
        .setBalloon(c.tuning().balloon()).setHugepages(c.tuning().hugepages()).addAllCpuPinning(c.tuning().cpuPinning())
        .setMachine(ApiEnums.machine(c.platform().machine())).setFirmware(ApiEnums.firmware(c.platform().firmware()))
        .setAgentPort(ApiEnums.agentPort(c.platform().agentPort()))
        .setOs(ApiEnums.os(c.platform().os())).setTpm(c.platform().tpm()).setDriversIso(c.platform().driversIso())
        .setTap(c.network().tap())
        .addAllGpus(c.gpus().stream().map(PciAddress::value).toList())
        .addAllShares(c.shares().stream().map(h -> dev.vmlet.proto.v1.Share.newBuilder().setHostPath(h.hostPath())
            .setGuestPath(h.guestPath()).setReadOnly(h.readOnly()).setType(ApiEnums.shareType(h.type())).build()).toList())
        .addAllCredentials(c.credentials().stream().map(k -> dev.vmlet.proto.v1.Credential.newBuilder().setName(k.name())
            .setValue(ByteString.copyFrom(k.value())).build()).toList())
        .setHttpProxy(c.httpProxy());
    if (c.restart() != RestartPolicy.NO) {
      b.setRestart(ApiEnums.restart(c.restart().flag()));
    }
    if (!c.cloudInit().isEmpty()) {
      b.setCloudInit(CloudInit.newBuilder().setUserData(c.cloudInit().userData())
          .setSshAuthorizedKey(c.cloudInit().sshAuthorizedKey()).addAllSshAuthorizedKeys(c.cloudInit().moreSshAuthorizedKeys()));
    }
    if (c.directBoot() != null) {
      b.setKernel(KernelBoot.newBuilder().setPath(c.directBoot().kernel()).setInitrd(c.directBoot().initrd())
          .setCmdline(c.directBoot().cmdline()));
    }
    return b.build();
  }

  /**
   * The spec as the daemon shows it (GetVm, ListVms, WatchVms): credential values emptied, the
   * proxy's user:password replaced by "***". What the caller sent stays in the daemon only.
   */
  public static VmSpec shown(VmConfig c) {
    VmSpec.Builder b = spec(c).toBuilder().setHttpProxy(GuestSettings.redactUserInfo(c.httpProxy()));
    b.getCredentialsBuilderList().forEach(k -> k.clearValue());
    return b.build();
  }

  static dev.vmlet.proto.v1.PortForward forward(PortForward f) {
    return dev.vmlet.proto.v1.PortForward.newBuilder().setProtocol(ApiEnums.protocol(f.protocol())).setHostAddress(f.hostAddress())
        .setHostPort(f.hostPort()).setGuestPort(f.guestPort()).build();
  }
}
