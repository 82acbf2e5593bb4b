package dev.vmlet.api;

import dev.vmlet.proto.v1.BootBreakdown;

import dev.vmlet.proto.v1.Vm;
import java.util.List;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.vm.LifecycleEvent;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.vm.VmRecord;
import dev.vmlet.vm.VmView;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import dev.vmlet.spec.VmException;
import dev.vmlet.cloudinit.NoCloudSeed;
import dev.vmlet.proto.v1.ListSnapshotsResponse;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.Snapshot;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.spec.SnapshotInfo;

/** Conversions between the domain and vmlet.v1 messages, and domain errors to gRPC statuses. */
final class VmProtos {
  private VmProtos() {}

  static Vm vm(VmView v) {
    VmRecord r = v.record();
    VmConfig c = r.config();
    Vm.Builder b = Vm.newBuilder()
        .setSpec(VmSpecs.shown(c))
        .setMac(QemuCommandBuilder.mac(r.instanceId()))
        .setInstanceId(r.instanceId())
        .setState(VmState.valueOf(r.state().name()))
        .setPid(r.pid())
        .setAccel(ApiEnums.accel(r.accel()))
        .setAccelReason(r.accelReason())
        .setStartedAtUnixMs(r.startedAtMs())
        .setLastError(r.lastError())
        .setConsoleLog(v.consoleLog().toString())
        .setQemuCommand(r.qemuCommand())
        .setCpuModel(QemuCommandBuilder.cpuModelOf(r.qemuCommand()))
        .setAgentReady(v.hello() != null);
    if (r.pid() != 0) {
      r.activeForwards().forEach(f -> b.addForwards(VmSpecs.forward(f)));
      r.activeForwards().stream().filter(f -> f.guestPort() == 22 && f.protocol().equals("tcp")).findFirst()
          .ifPresent(f -> b.setSshHost(f.hostAddress()).setSshPort(f.hostPort()));
    }
    if (v.sshIdentity() != null) {
      b.setSshUser(NoCloudSeed.USER).setSshIdentityFile(v.sshIdentity().toString());
    }
    b.setCloudInitDoneUnixMs(v.cloudInitDoneAtMs()).setSshReadyUnixMs(v.sshReadyAtMs())
        .setConsoleFirstOutputUnixMs(v.consoleFirstOutputAtMs());
    if (v.hello() != null) {
      b.setAgentReadyAtUnixMs(v.agentReadyAtMs()).setGuest(AgentReplies.guest(v.hello().getGuest())).setAgentVersion(v.hello().getAgentVersion());
      if (v.boot() != null) {
        b.setBootBreakdown(BootBreakdown.newBuilder().setFirmwareMs(v.boot().firmwareMs()).setKernelMs(v.boot().kernelMs())
            .setInitMs(v.boot().initMs()).setAgentJvmMs(v.boot().agentJvmMs()).setAgentMainMs(v.boot().agentMainMs())
            .setHandshakeMs(v.boot().handshakeMs()));
      }
    }
    return b.build();
  }

  /** Whether a VM matches a ListVms filter: the state when set, and every label. */
  static boolean matches(Vm vm, ListVmsRequest filter) {
    if (filter.getState() != VmState.VM_STATE_UNSPECIFIED && vm.getState() != filter.getState()) {
      return false;
    }
    for (var l : filter.getLabelsMap().entrySet()) {
      if (!l.getValue().equals(vm.getSpec().getLabelsMap().get(l.getKey()))) {
        return false;
      }
    }
    return true;
  }

  static Snapshot snapshot(SnapshotInfo s) {
    return Snapshot.newBuilder().setName(s.name()).setCreatedUnixMs(s.createdAtMs())
        .setVmStateBytes(s.vmStateBytes()).build();
  }

  static ListSnapshotsResponse snapshots(List<SnapshotInfo> list) {
    return ListSnapshotsResponse.newBuilder()
        .addAllSnapshots(list.stream().map(VmProtos::snapshot).toList()).build();
  }

  static VmEvent event(LifecycleEvent e) {
    return VmEvent.newBuilder().setAtUnixMs(e.atMs()).setName(e.name())
        .setKind(VmEvent.Kind.valueOf(e.kind().name())).setState(VmState.valueOf(e.state().name()))
        .setMessage(e.message()).build();
  }

  /** The one place domain errors become gRPC statuses. */
  static StatusRuntimeException status(RuntimeException e) {
    if (e instanceof VmException ve) {
      Status s = switch (ve.kind()) {
        case INVALID_ARGUMENT -> Status.INVALID_ARGUMENT;
        case NOT_FOUND -> Status.NOT_FOUND;
        case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
        case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
        case UNAVAILABLE -> Status.UNAVAILABLE;
        case DEADLINE_EXCEEDED -> Status.DEADLINE_EXCEEDED;
        case RESOURCE_EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
        case INTERNAL -> Status.INTERNAL;
      };
      return s.withDescription(ve.getMessage()).asRuntimeException();
    }
    if (e instanceof StatusRuntimeException sre) {
      return sre;
    }
    return Status.INTERNAL.withDescription(e.toString()).withCause(e).asRuntimeException();
  }
}
