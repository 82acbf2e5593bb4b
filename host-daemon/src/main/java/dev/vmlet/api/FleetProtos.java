package dev.vmlet.api;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.proto.v1.FleetNode;
import dev.vmlet.proto.v1.ListFleetVmsResponse;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.NodeVm;
import dev.vmlet.proto.v1.Vm;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The fleet's peers as API messages, and the VMs of each. */
final class FleetProtos {
  /** How long one peer may take to list its VMs. */
  static final long LIST_SECONDS = 10;

  private FleetProtos() {}

  static List<FleetNode> nodes(List<Fleet.Peer> peers) {
    return peers.stream().map(FleetProtos::node).toList();
  }

  static FleetNode node(Fleet.Peer p) {
    FleetNode.Builder b = FleetNode.newBuilder().setName(p.name() == null ? "" : p.name()).setAddress(p.address())
        .setSource(p.source()).setReachable(p.reachable());
    if (p.reachable()) {
      b.setSummary(p.summary());
    } else {
      b.setError(p.error());
    }
    return b.build();
  }

  /** The peer's VMs that pass the filter; a peer that cannot answer goes to the unreachable ones, with why. */
  static void addVms(ListFleetVmsResponse.Builder out, Fleet.Peer p, ListVmsRequest filter) {
    if (!p.reachable()) {
      out.addUnreachable(node(p));
      return;
    }
    try (DaemonClient c = p.endpoint().connect(p.name())) {
      for (Vm vm : c.vms().withDeadlineAfter(LIST_SECONDS, TimeUnit.SECONDS).listVms(filter).getVmsList()) {
        out.addVms(NodeVm.newBuilder().setNode(p.name()).setVm(vm));
      }
    } catch (IOException | StatusRuntimeException e) {
      out.addUnreachable(node(new Fleet.Peer(p.name(), p.address(), p.source(), p.endpoint(), null, Fleet.reason(e))));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      out.addUnreachable(node(new Fleet.Peer(p.name(), p.address(), p.source(), p.endpoint(), null, "interrupted")));
    }
  }
}
