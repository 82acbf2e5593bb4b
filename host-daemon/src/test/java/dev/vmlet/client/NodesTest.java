package dev.vmlet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class NodesTest {
  @Test
  void parsesNamesAndUnixSockets_withComments() {
    Nodes n = Nodes.parse("f", List.of("# nodes", "", "node2 unix:/run/n2/vmlet.sock  # the second", "db-host\tunix:/x.sock"));
    assertThat(n.endpoint("node2").socket()).isEqualTo(Path.of("/run/n2/vmlet.sock"));
    assertThat(n.endpoint("db-host").socket()).isEqualTo(Path.of("/x.sock"));
    assertThatThrownBy(() -> n.endpoint("node3")).hasMessageContaining("no node named 'node3'").hasMessageContaining("known: node2, db-host");
  }

  @Test
  void badLines_nameTheLineAndWhatToWrite() {
    assertThatThrownBy(() -> Nodes.parse("f", List.of("node2"))).hasMessageContaining("f line 1: expected 'NAME unix:");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("n unix:/a", "n unix:/b"))).hasMessageContaining("line 2").hasMessageContaining("twice");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("n tcp://h:1"))).hasMessageContaining("needs cert=, key= and ca=");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("n tcp://h:1 cert=rel key=/k ca=/c"))).hasMessageContaining("cert=/abs/path");
    Nodes tcp = Nodes.parse("f", List.of("n2 tcp://10.0.0.2:7443 cert=/c.pem key=/k.pem ca=/ca.pem"));
    assertThat(tcp.endpoint("n2").tcp().getPort()).isEqualTo(7443);
    assertThat(tcp.endpoint("n2").describe()).isEqualTo("tcp://10.0.0.2:7443");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("n unix:rel"))).hasMessageContaining("unix:/absolute/path");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("Node unix:/a"))).hasMessageContaining("lower-case");
  }

  @Test
  void aMissingFile_isNoNodes() throws Exception {
    assertThat(Nodes.load(Path.of("/no/such/nodes")).endpoints()).isEmpty();
  }
}
