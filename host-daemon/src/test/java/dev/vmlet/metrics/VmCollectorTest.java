package dev.vmlet.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonParser;
import dev.vmlet.client.MetricsText;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.qmp.FakeQmpServer;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.vm.VmRecord;
import dev.vmlet.vm.VmState;
import dev.vmlet.vm.VmView;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.ArrayList;

class VmCollectorTest {
  @TempDir Path dir;

  private static final String BLOCKSTATS = "[{\"device\": \"disk-data\", \"stats\": {\"rd_bytes\": 512, \"wr_bytes\": 8192, "
      + "\"rd_operations\": 1, \"wr_operations\": 2}}]";

  private static VmView view(String name, VmState state, long pid, Map<String, String> labels, boolean agent) {
    VmConfig c = VmConfig.builder(name).vcpus(2).memoryMib(1024).labels(labels).build();
    VmRecord r = VmRecord.created(c, "id-" + name, null).withState(state).withStarted(pid, "tcg", "test", 1_000, "qemu", List.of());
    return new VmView(r, agent ? Hello.getDefaultInstance() : null, agent ? 8_500 : 0, null, 0, 0, null, 0, null);
  }

  private void fakeProc(long pid, long ticks, long rssKib) throws Exception {
    Path p = Files.createDirectories(dir.resolve("proc").resolve(Long.toString(pid)));
    Files.writeString(p.resolve("stat"), pid + " (qemu-system-x86) S 1 1 1 0 -1 0 0 0 0 0 " + ticks + " 0 0 0 20 0 9 0 5 6 7\n");
    Files.writeString(p.resolve("status"), "Name:\tqemu\nVmRSS:\t" + rssKib + " kB\n");
  }

  @Test
  void aScrape_saysWhatEachVmIs_andWhatItsQemuUsed() throws Exception {
    fakeProc(300, 250, 2048);
    try (FakeQmpServer qemu = FakeQmpServer.start(dir.resolve("qmp.sock")).answer("query-blockstats", JsonParser.parseString(BLOCKSTATS));
         QmpClient qmp = QmpClient.connect(dir.resolve("qmp.sock"), Duration.ofSeconds(5), e -> { }, () -> { })) {
      List<VmView> vms = List.of(view("web1", VmState.RUNNING, 300, Map.of("role", "web", "team.name", "a"), true),
          view("idle", VmState.STOPPED, 0, Map.of(), false));
      VmSampler sampler = new VmSampler(() -> List.of(new VmSampler.Running("web1", qmp)), () -> 42);
      sampler.sample();
      PrometheusRegistry registry = new PrometheusRegistry();
      registry.register(new VmCollector(() -> vms, sampler, dir.resolve("proc"), dir.resolve("sys")));

      List<MetricsText.Sample> s = Exposition.samples(registry);

      assertThat(Exposition.value(s, "vmlet_vm_state", Map.of("vm", "web1", "state", "RUNNING"))).isEqualTo(1);
      assertThat(Exposition.value(s, "vmlet_vm_state", Map.of("vm", "web1", "state", "STOPPED"))).isEqualTo(0);
      assertThat(Exposition.value(s, "vmlet_vm_state", Map.of("vm", "idle", "state", "STOPPED"))).isEqualTo(1);
      assertThat(Exposition.value(s, "vmlet_vm_vcpus", Map.of("vm", "web1"))).isEqualTo(2);
      assertThat(Exposition.value(s, "vmlet_vm_memory_bytes", Map.of("vm", "web1"))).isEqualTo(1024.0 * 1024 * 1024);
      assertThat(Exposition.value(s, "vmlet_vm_labels", Map.of("vm", "web1", "label_role", "web", "label_team_name", "a")))
          .isEqualTo(1);
      assertThat(Exposition.value(s, "vmlet_vm_cpu_seconds_total", Map.of("vm", "web1"))).isEqualTo(2.5);
      assertThat(Exposition.value(s, "vmlet_vm_resident_memory_bytes", Map.of("vm", "web1"))).isEqualTo(2048 * 1024);
      assertThat(Exposition.value(s, "vmlet_vm_agent_connected", Map.of("vm", "web1"))).isEqualTo(1);
      assertThat(Exposition.value(s, "vmlet_vm_agent_ready_seconds", Map.of("vm", "web1"))).isEqualTo(7.5);
      assertThat(Exposition.value(s, "vmlet_vm_block_written_bytes_total", Map.of("vm", "web1", "disk", "data"))).isEqualTo(8192);
      assertThat(Exposition.value(s, "vmlet_vm_block_read_requests_total", Map.of("vm", "web1", "disk", "data"))).isEqualTo(1);
      // A stopped VM has no process to read: no CPU or disk series rather than zeros.
      assertThat(Exposition.value(s, "vmlet_vm_cpu_seconds_total", Map.of("vm", "idle"))).isNaN();
      assertThat(Exposition.value(s, "vmlet_vm_agent_connected", Map.of("vm", "idle"))).isEqualTo(0);
    }
  }

  @Test
  void aScrape_doesNotWaitForAQemuThatStoppedAnswering_andKeepsItsLastDiskNumbers() throws Exception {
    fakeProc(301, 100, 1024);
    try (FakeQmpServer qemu = FakeQmpServer.start(dir.resolve("qmp.sock")).answer("query-blockstats", JsonParser.parseString(BLOCKSTATS));
         QmpClient qmp = QmpClient.connect(dir.resolve("qmp.sock"), Duration.ofSeconds(5), e -> { }, () -> { })) {
      VmSampler sampler = new VmSampler(() -> List.of(new VmSampler.Running("web1", qmp)), System::currentTimeMillis);
      sampler.sample();
      qemu.neverAnswer("query-blockstats");
      PrometheusRegistry registry = new PrometheusRegistry();
      registry.register(new VmCollector(() -> List.of(view("web1", VmState.RUNNING, 301, Map.of(), true)), sampler,
          dir.resolve("proc"), dir.resolve("sys")));

      CompletableFuture<Void> stuck = CompletableFuture.runAsync(sampler::sample);
      long t0 = System.nanoTime();
      List<MetricsText.Sample> s = Exposition.samples(registry);
      long scrapeMs = (System.nanoTime() - t0) / 1_000_000;

      assertThat(stuck).isNotDone(); // the sampler waits for QEMU (at most its QMP timeout) ...
      assertThat(scrapeMs).isLessThan(VmSampler.QMP_TIMEOUT.toMillis()); // ... the scrape does not
      assertThat(Exposition.value(s, "vmlet_vm_block_written_bytes_total", Map.of("vm", "web1", "disk", "data"))).isEqualTo(8192);
      stuck.get(VmSampler.QMP_TIMEOUT.toMillis() + 5_000, TimeUnit.MILLISECONDS);
      assertThat(sampler.last("web1").disks()).hasSize(1); // still the last answer
    }
  }

  @Test
  void aVmThatStoppedRunning_losesItsSample() throws Exception {
    try (FakeQmpServer qemu = FakeQmpServer.start(dir.resolve("qmp.sock")).answer("query-blockstats", JsonParser.parseString(BLOCKSTATS));
         QmpClient qmp = QmpClient.connect(dir.resolve("qmp.sock"), Duration.ofSeconds(5), e -> { }, () -> { })) {
      List<List<VmSampler.Running>> rounds = new ArrayList<>(List.of(List.of(new VmSampler.Running("a", qmp)), List.of()));
      VmSampler sampler = new VmSampler(() -> rounds.remove(0), () -> 1);
      sampler.sample();
      assertThat(sampler.last("a")).isNotNull();
      sampler.sample();
      assertThat(sampler.last("a")).isNull();
    }
  }
}
