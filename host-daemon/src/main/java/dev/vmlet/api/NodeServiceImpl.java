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

/** NodeService: the host's capabilities and its GPUs. */
public final class NodeServiceImpl extends NodeServiceGrpc.NodeServiceImplBase {
  private final VmManager manager;
  private final HostCapabilities capabilities;

  public NodeServiceImpl(VmManager manager, HostCapabilities capabilities) {
    this.manager = manager;
    this.capabilities = capabilities;
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
