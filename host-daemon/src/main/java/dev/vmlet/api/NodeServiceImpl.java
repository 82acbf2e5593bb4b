package dev.vmlet.api;

import dev.vmlet.node.HostCapabilities;
import dev.vmlet.proto.v1.Capabilities;
import dev.vmlet.proto.v1.GetCapabilitiesRequest;
import dev.vmlet.proto.v1.Gpu;
import dev.vmlet.proto.v1.GpuRequest;
import dev.vmlet.proto.v1.ListGpusRequest;
import dev.vmlet.proto.v1.ListGpusResponse;
import dev.vmlet.proto.v1.NodeServiceGrpc;
import dev.vmlet.vfio.Gpus;
import dev.vmlet.vfio.PciDevice;
import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.VmException;
import dev.vmlet.vm.VmManager;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.List;
import dev.vmlet.vfio.VfioException;
import dev.vmlet.client.Nodes;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.node.HostLoad;
import dev.vmlet.proto.v1.DescribeNodeRequest;
import dev.vmlet.proto.v1.FleetNode;
import dev.vmlet.proto.v1.ListFleetVmsRequest;
import dev.vmlet.proto.v1.ListFleetVmsResponse;
import dev.vmlet.proto.v1.ListNodesRequest;
import dev.vmlet.proto.v1.ListNodesResponse;
import dev.vmlet.proto.v1.NodeSummary;
import dev.vmlet.proto.v1.NodeVm;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.vm.VmState;
import dev.vmlet.vm.VmView;
import java.nio.file.Path;
import java.util.ArrayList;

/** NodeService: the host's capabilities, its GPUs, and the fleet it knows. */
public final class NodeServiceImpl extends NodeServiceGrpc.NodeServiceImplBase {
  private final VmManager manager;
  private final HostCapabilities capabilities;
  private final Fleet fleet;

  public NodeServiceImpl(VmManager manager, HostCapabilities capabilities) {
    this(manager, capabilities, Fleet.of(Nodes.NONE));
  }

  public NodeServiceImpl(VmManager manager, HostCapabilities capabilities, Fleet fleet) {
    this.manager = manager;
    this.capabilities = capabilities;
    this.fleet = fleet;
  }

  @Override
  public void describeNode(DescribeNodeRequest req, StreamObserver<NodeSummary> out) {
    answer(out, this::summary);
  }

  @Override
  public void listNodes(ListNodesRequest req, StreamObserver<ListNodesResponse> out) {
    answer(out, () -> ListNodesResponse.newBuilder().addNodes(selfNode()).addAllNodes(FleetProtos.nodes(peers())).build());
  }

  @Override
  public void listFleetVms(ListFleetVmsRequest req, StreamObserver<ListFleetVmsResponse> out) {
    answer(out, () -> {
      ListFleetVmsResponse.Builder b = ListFleetVmsResponse.newBuilder();
      for (VmView v : manager.list()) {
        Vm vm = VmProtos.vm(v);
        if (VmProtos.matches(vm, req.getFilter())) {
          b.addVms(NodeVm.newBuilder().setNode(fleet.self()).setVm(vm));
        }
      }
      for (Fleet.Peer p : peers()) {
        FleetProtos.addVms(b, p, req.getFilter());
      }
      return b.build();
    });
  }

  /** The nodes file's nodes and the discovered peers, asked now. */
  private List<Fleet.Peer> peers() {
    List<Fleet.Peer> all = new ArrayList<>(fleet.staticNodes());
    all.addAll(fleet.refresh());
    return all;
  }

  private FleetNode selfNode() throws IOException {
    return FleetNode.newBuilder().setName(fleet.self()).setAddress("local").setSource("self").setReachable(true)
        .setSummary(summary()).build();
  }

  private NodeSummary summary() throws IOException {
    HostLoad load = HostLoad.read(Path.of("/"));
    List<VmView> vms = manager.list();
    return NodeSummary.newBuilder().setName(fleet.self()).setAccel(ApiEnums.accel(manager.autoAccel().name())).setCpus(load.cpus())
        .setMemoryTotalMib(load.memoryTotalMib()).setMemoryAvailableMib(load.memoryAvailableMib()).setVmCount(vms.size())
        .setRunningVmCount((int) vms.stream().filter(v -> v.record().state() == VmState.RUNNING).count()).build();
  }

  @Override
  public void getCapabilities(GetCapabilitiesRequest req, StreamObserver<Capabilities> out) {
    answer(out, capabilities::report);
  }

  @Override
  public void listGpus(ListGpusRequest req, StreamObserver<ListGpusResponse> out) {
    answer(out, this::gpus);
  }

  @Override
  public void passthroughGpu(GpuRequest req, StreamObserver<ListGpusResponse> out) {
    answer(out, () -> {
      manager.gpus().take(Gpus.MANUAL, List.of(new PciAddress(req.getAddress()).value()));
      return gpus();
    });
  }

  @Override
  public void reclaimGpu(GpuRequest req, StreamObserver<ListGpusResponse> out) {
    answer(out, () -> {
      Gpus g = manager.gpus();
      int given = 0;
      for (PciDevice d : g.expand(List.of(new PciAddress(req.getAddress()).value()))) {
        String holder = g.holder(d.address());
        if (holder == null) {
          continue;
        }
        if (!holder.equals(Gpus.MANUAL) && manager.isRunning(holder)) {
          throw new VmException(VmException.Kind.FAILED_PRECONDITION, d.address() + " is held by running VM '" + holder
              + "'; stop it, and the GPU goes back by itself");
        }
        g.reclaim(d.address());
        given++;
      }
      if (given == 0) {
        throw new VfioException(req.getAddress() + " was not passed through by vmlet; nothing to give back");
      }
      return gpus();
    });
  }

  private ListGpusResponse gpus() throws IOException {
    ListGpusResponse.Builder b = ListGpusResponse.newBuilder();
    for (Gpus.Gpu g : manager.gpus().list()) {
      PciDevice d = g.device();
      b.addGpus(Gpu.newBuilder().setAddress(d.address()).setVendor(d.vendor()).setDevice(d.device()).setPciClass(d.pciClass())
          .setDriver(d.driver()).setIommuGroup(d.iommuGroup()).addAllGroupMembers(d.groupMembers()).setCompanion(g.companion())
          .setHolder(g.holder()).setNumaNode(d.numaNode()));
    }
    return b.build();
  }

  private interface Body<T> {
    T get() throws IOException;
  }

  private static <T> void answer(StreamObserver<T> out, Body<T> body) {
    T reply;
    try {
      reply = body.get();
    } catch (VfioException e) {
      out.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
      return;
    } catch (IOException e) {
      out.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
      return;
    } catch (RuntimeException e) {
      out.onError(VmProtos.status(e));
      return;
    }
    out.onNext(reply);
    out.onCompleted();
  }
}
