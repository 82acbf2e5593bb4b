package dev.vmlet.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class NodesTest {
  @Test
  void parsesNamesAndUnixSockets_withComments() {
    Nodes n = Nodes.parse("f", List.of("# nodes", "", "node2 unix:/run/n2/vmlet.sock  # the second", "db-host\tunix:/x.sock"));
    assertThat(n.socket("node2")).isEqualTo(Path.of("/run/n2/vmlet.sock"));
    assertThat(n.socket("db-host")).isEqualTo(Path.of("/x.sock"));
    assertThatThrownBy(() -> n.socket("node3")).hasMessageContaining("no node named 'node3'").hasMessageContaining("known: node2, db-host");
  }

  @Test
  void badLines_nameTheLineAndWhatToWrite() {
    assertThatThrownBy(() -> Nodes.parse("f", List.of("node2"))).hasMessageContaining("f line 1: expected 'NAME unix:");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("n unix:/a", "n unix:/b"))).hasMessageContaining("line 2").hasMessageContaining("twice");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("n tcp://h:1"))).hasMessageContaining("mutual TLS");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("n unix:rel"))).hasMessageContaining("unix:/absolute/path");
    assertThatThrownBy(() -> Nodes.parse("f", List.of("Node unix:/a"))).hasMessageContaining("lower-case");
  }

  @Test
  void aMissingFile_isNoNodes() throws Exception {
    assertThat(Nodes.load(Path.of("/no/such/nodes")).sockets()).isEmpty();
  }
}
