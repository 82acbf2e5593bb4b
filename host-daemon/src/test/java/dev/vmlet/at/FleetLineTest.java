package dev.vmlet.at;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.at.AtParser;
import java.util.List;
import org.junit.jupiter.api.Test;

class FleetLineTest {
  private static List<FleetLine.Step> plan(String line) {
    return FleetLine.plan(AtParser.parse(line), "node-a", "host"::equals);
  }

  @Test
  void plan_aLineOnOneNode_isNotOneAcrossNodes() {
    assertThat(plan("@vm1 ls | @vm2 wc -l")).isNull();
    assertThat(plan("@node-b/vm1 ls | @node-b/vm2 wc -l")).isNull();
    assertThat(plan("@node-a/vm1 ls | @vm2 wc -l")).as("this node named or not").isNull();
  }

  @Test
  void plan_stagesOnTwoNodes_giveOneStepEach_thisNodeAsNull() {
    List<FleetLine.Step> steps = plan("@node-a/vm1 cat /etc/hosts | @node-b/vm2 grep local | @vm3 wc -l");
    assertThat(steps).extracting(FleetLine.Step::node).containsExactly(null, "node-b", null);
    assertThat(steps).extracting(FleetLine.Step::vm).containsExactly("vm1", "vm2", "vm3");
    assertThat(steps.get(1).argv()).containsExactly("grep", "local");
    assertThat(steps.get(1).display()).isEqualTo("stage 2 (@node-b/vm2 grep local)");
  }

  @Test
  void plan_whatALineAcrossNodesCannotHold_isRefusedWithItsColumn() {
    assertThatThrownBy(() -> plan("@node-b/vm1 ls > @vm1 /tmp/x")).hasMessageStartingWith("column 16: a redirect in a line across nodes");
    assertThatThrownBy(() -> plan("@role=web uptime | @node-b/vm2 cat")).hasMessageContaining("a label selector in a line across nodes");
    assertThatThrownBy(() -> plan("@node-b/vm1 ls | @host cat")).hasMessageContaining("@host (this host) in a line across nodes");
  }
}
