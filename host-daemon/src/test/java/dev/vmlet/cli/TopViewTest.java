package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.client.MetricsText;
import java.util.List;
import org.junit.jupiter.api.Test;
import java.util.ArrayList;

class TopViewTest {
  private static List<MetricsText.Sample> scrape(double cpuSeconds, double written, String webState) {
    return MetricsText.parse("""
        vmlet_vm_state{state="RUNNING",vm="web1"} %s
        vmlet_vm_state{state="STOPPED",vm="web1"} %s
        vmlet_vm_state{state="STOPPED",vm="db"} 1.0
        vmlet_vm_vcpus{vm="web1"} 2.0
        vmlet_vm_vcpus{vm="db"} 1.0
        vmlet_vm_memory_bytes{vm="web1"} 1.073741824E9
        vmlet_vm_resident_memory_bytes{vm="web1"} 5.24288E8
        vmlet_vm_cpu_seconds_total{vm="web1"} %s
        vmlet_vm_block_written_bytes_total{disk="root",vm="web1"} %s
        vmlet_vm_block_written_bytes_total{disk="data",vm="web1"} 1000.0
        vmlet_vm_agent_connected{vm="web1"} 1.0
        """.formatted(webState.equals("RUNNING") ? 1 : 0, webState.equals("RUNNING") ? 0 : 1, cpuSeconds, written));
  }

  @Test
  void rows_giveRatesOverTheTimeBetweenScrapes_summedOverDisks() {
    List<TopView.Row> rows = TopView.rows(scrape(10, 0, "RUNNING"), scrape(11.5, 4096, "RUNNING"), 2.0);

    assertThat(rows).extracting(TopView.Row::vm).containsExactly("db", "web1");
    TopView.Row web = rows.get(1);
    assertThat(web.cpuPercent()).isEqualTo(75.0);
    assertThat(web.diskWriteRate()).isEqualTo(2048.0);
    assertThat(web.diskReadRate()).isNaN();
    assertThat(web.agent()).isTrue();
    assertThat(rows.get(0).cpuPercent()).isNaN();
  }

  @Test
  void theFirstFrame_hasNoRates_andTheScreenShowsEveryVm() {
    String screen = TopView.render("vmlet top - 127.0.0.1:9100", TopView.rows(null, scrape(10, 0, "RUNNING"), 0), 120);

    assertThat(screen.lines()).hasSize(6);
    assertThat(screen).contains("2 VMs, 1 running");
    assertThat(screen.lines().filter(l -> l.startsWith("web1"))).singleElement().asString()
        .matches("web1 +RUNNING +2 +- +1\\.0G +500M +- +- +- +- +up");
  }

  @Test
  void aCounterThatWentBack_qemuRestarted_givesNoRate() {
    assertThat(TopView.rows(scrape(50, 0, "RUNNING"), scrape(1, 0, "RUNNING"), 1).get(1).cpuPercent()).isNaN();
  }

  @Test
  void lines_areCutToTheTerminalsWidth() {
    assertThat(TopView.render("h".repeat(200), TopView.rows(null, scrape(1, 0, "STOPPED"), 0), 40).lines())
        .allMatch(l -> l.length() <= 40);
  }

  @Test
  void vmsThatDoNotFitTheTerminalsHeight_areCounted() {
    List<TopView.Row> many = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      many.add(new TopView.Row("vm" + i, "STOPPED", 1, 1 << 30, Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
          Double.NaN, false));
    }
    List<String> screen = TopView.render("h", many, 120, 12).lines().toList();

    assertThat(screen).hasSize(12);
    assertThat(screen.get(10)).startsWith("vm6 ");
    assertThat(screen.get(11)).isEqualTo("... and 23 more VMs (a taller terminal shows them)");
  }

  @Test
  void bytes_areShortAsTopPrintsThem() {
    assertThat(TopView.bytes(512)).isEqualTo("512B");
    assertThat(TopView.bytes(1536)).isEqualTo("1.5K");
    assertThat(TopView.bytes(300L << 20)).isEqualTo("300M");
    assertThat(TopView.bytes(Double.NaN)).isEqualTo("-");
  }
}
