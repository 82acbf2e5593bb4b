package dev.vmlet.at;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.at.AtParser;
import org.junit.jupiter.api.Test;

class NodeLinesTest {
  private static NodeLines.Remote remote(String line) {
    return NodeLines.remote(AtParser.parse(line), line);
  }

  @Test
  void aLocalLine_staysHere() {
    assertThat(remote("@web1 uptime | @db cat > @web1 /tmp/x")).isNull();
  }

  @Test
  void aLineOnOneOtherNode_goesThere_withoutTheNodePrefixes() {
    assertThat(remote("@node2/db uptime")).isEqualTo(new NodeLines.Remote("node2", "@db uptime"));
    assertThat(remote("@n2/a echo 'n2/x @n2/y' | @n2/b sort > @n2/c /tmp/o 2>&1"))
        .isEqualTo(new NodeLines.Remote("n2", "@a echo 'n2/x @n2/y' | @b sort > @c /tmp/o 2>&1"));
  }

  @Test
  void mixingNodes_isRefusedAtTheColumn() {
    assertThatThrownBy(() -> remote("@n2/a ls | @b cat")).hasMessageContaining("column 12").hasMessageContaining("one node");
    assertThatThrownBy(() -> remote("@n2/a ls > @n3/b /x")).hasMessageContaining("column 12");
  }

  @Test
  void targetsNamingThisNode_areThisNodes_withOrWithoutThePrefix() {
    String line = "@me/a ls | @b cat > @me/c /tmp/o";
    assertThat(NodeLines.remote(AtParser.parse(line), line, "me")).isEqualTo(new NodeLines.Remote("me", "@a ls | @b cat > @c /tmp/o"));
    assertThatThrownBy(() -> NodeLines.remote(AtParser.parse("@n2/a ls | @b cat"), "@n2/a ls | @b cat", "me"))
        .hasMessageContaining("column 12");
  }
}
