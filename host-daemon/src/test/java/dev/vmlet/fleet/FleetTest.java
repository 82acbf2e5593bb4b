package dev.vmlet.fleet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.client.Nodes;
import dev.vmlet.proto.v1.NodeSummary;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The fleet's bookkeeping with a scripted DNS answer and scripted DescribeNode answers;
 * FleetDiscoveryIT runs the real thing (dnsmasq, daemons over mutual TLS).
 */
class FleetTest {
  static final int PORT = 7443;
  final List<InetAddress> answer = new ArrayList<>();
  final Map<String, Object> whoIs = new HashMap<>(); // address -> node name, or an exception
  IOException dnsFails;

  final Fleet fleet = new Fleet("node-a", Nodes.NONE, new Fleet.Discovery(PeerSource.parse("dns:tasks.vmlet:" + PORT),
      new Fleet.Credentials(Path.of("/c"), Path.of("/k"), Path.of("/ca")), Duration.ofSeconds(10)), () -> {
        if (dnsFails != null) {
          throw dnsFails;
        }
        return List.copyOf(answer);
      }, new InetSocketAddress("10.0.0.1", PORT), (endpoint, name) -> {
        assertThat(endpoint.authority()).as("the certificate is checked against the DNS name").isEqualTo("tasks.vmlet");
        Object o = whoIs.get(endpoint.tcp().getAddress().getHostAddress());
        if (o instanceof IOException e) {
          throw e;
        }
        return NodeSummary.newBuilder().setName((String) o).build();
      });

  void dns(String... addresses) throws Exception {
    answer.clear();
    for (String a : addresses) {
      answer.add(InetAddress.getByName(a));
    }
  }

  List<String> peers() {
    return fleet.refresh().stream().map(p -> p.name() + "@" + p.address() + (p.reachable() ? "" : "!")).toList();
  }

  @Test
  void aPeer_isKnownByTheNameItReports_andKeepsItAtANewAddress() throws Exception {
    whoIs.put("10.0.0.2", "node-b");
    dns("10.0.0.1", "10.0.0.2");
    assertThat(peers()).as("its own listener skipped").containsExactly("node-b@tcp://10.0.0.2:7443");
    assertThat(fleet.endpoint("node-b").tcp().getAddress().getHostAddress()).isEqualTo("10.0.0.2");
    whoIs.put("10.0.0.9", "node-b");
    dns("10.0.0.1", "10.0.0.9");
    assertThat(peers()).containsExactly("node-b@tcp://10.0.0.9:7443");
    assertThat(fleet.endpoint("node-b").tcp().getAddress().getHostAddress()).isEqualTo("10.0.0.9");
  }

  @Test
  void anAddressGoneFromDns_dropsItsPeer_andANameNotKnownAsksDnsAgain() throws Exception {
    whoIs.put("10.0.0.2", "node-b");
    whoIs.put("10.0.0.3", "node-c");
    dns("10.0.0.2", "10.0.0.3");
    assertThat(peers()).hasSize(2);
    dns("10.0.0.3");
    assertThat(peers()).containsExactly("node-c@tcp://10.0.0.3:7443");
    assertThatThrownBy(() -> fleet.endpoint("node-b")).hasMessageContaining("no node named 'node-b'").hasMessageContaining("known: node-c");
    dns("10.0.0.2", "10.0.0.3");
    assertThat(fleet.endpoint("node-b").tcp().getAddress().getHostAddress()).as("asked DNS again").isEqualTo("10.0.0.2");
  }

  @Test
  void anAddressReportingThisNodesName_isThisNode_andTwoReportingOneName_areFlagged() throws Exception {
    whoIs.put("10.0.0.5", "node-a"); // this node through another of its addresses
    whoIs.put("10.0.0.2", "node-b");
    whoIs.put("10.0.0.3", "node-b");
    dns("10.0.0.5", "10.0.0.2", "10.0.0.3");
    List<Fleet.Peer> p = fleet.refresh();
    assertThat(p).extracting(Fleet.Peer::address).containsExactly("tcp://10.0.0.2:7443", "tcp://10.0.0.3:7443");
    assertThat(p.get(1).error()).contains("reports the node name 'node-b', as does tcp://10.0.0.2:7443").contains("--node-name");
  }

  @Test
  void anUnreachablePeer_keepsItsLastName_withWhy_andADnsFailureKeepsWhatWasKnown() throws Exception {
    whoIs.put("10.0.0.2", "node-b");
    dns("10.0.0.2");
    peers();
    whoIs.put("10.0.0.2", new IOException("connection refused"));
    assertThat(peers()).containsExactly("node-b@tcp://10.0.0.2:7443!");
    assertThat(fleet.discovered().get(0).error()).contains("connection refused");
    assertThatThrownBy(() -> fleet.endpoint("node-b")).hasMessageContaining("node node-b at tcp://10.0.0.2:7443 cannot be reached");
    whoIs.put("10.0.0.2", "node-b");
    peers();
    dnsFails = new IOException("cannot resolve tasks.vmlet: timed out");
    assertThat(peers()).containsExactly("node-b@tcp://10.0.0.2:7443");
    assertThat(fleet.discoveryError()).contains("timed out");
  }
}
