package dev.vmlet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class MetricsTextTest {
  @Test
  void parse_readsNamesLabelsWithEscapesAndSpecialValues_andSkipsComments() {
    var s = MetricsText.parse("""
        # HELP vmlet_vm_info Facts.
        # TYPE vmlet_vm_info gauge
        vmlet_vm_info{vm="a",note="say \\"hi\\", a\\\\b\\nc"} 1.0
        process_open_fds 24.0
        x_bucket{le="+Inf"} 3 1700000000000
        y NaN
        """);

    assertThat(s).hasSize(4);
    assertThat(s.get(0).labels()).isEqualTo(Map.of("vm", "a", "note", "say \"hi\", a\\b\nc"));
    assertThat(s.get(1)).isEqualTo(new MetricsText.Sample("process_open_fds", Map.of(), 24.0));
    assertThat(s.get(2).value()).isEqualTo(3);
    assertThat(s.get(2).label("le")).isEqualTo("+Inf");
    assertThat(s.get(3).value()).isNaN();
  }

  @Test
  void parse_ofALineThatIsNotMetrics_saysWhichLine() {
    assertThatThrownBy(() -> MetricsText.parse("<html>")).hasMessageContaining("<html>");
  }
}
