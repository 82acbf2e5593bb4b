package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonParser;
import dev.vmlet.proc.FakeProcessRunner;
import dev.vmlet.qmp.FakeQmpServer;
import dev.vmlet.qmp.QmpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** vCPU pinning with QEMU's QMP and taskset both faked: which thread goes to which CPU. */
class CpuPinningTest {
  private static final Duration T = Duration.ofSeconds(5);

  @TempDir Path dir;
  private final FakeProcessRunner runner = new FakeProcessRunner();
  private FakeQmpServer qemu;
  private QmpClient qmp;

  @BeforeEach
  void start() throws Exception {
    qemu = FakeQmpServer.start(dir.resolve("qmp.sock")).answer("query-cpus-fast", JsonParser.parseString("""
        [{"thread-id": 4101, "props": {"core-id": 0, "thread-id": 0, "node-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]",
          "cpu-index": 0, "target": "x86_64"},
         {"thread-id": 4102, "props": {"core-id": 1, "thread-id": 0, "node-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[1]",
          "cpu-index": 1, "target": "x86_64"}]
        """));
    qmp = QmpClient.connect(dir.resolve("qmp.sock"), T, e -> { }, () -> { });
  }

  @AfterEach
  void stop() throws Exception {
    qmp.close();
    qemu.close();
  }

  @Test
  void eachVcpuThread_isPinnedToItsHostCpu() throws Exception {
    runner.when("taskset").thenPrint("pid 4101's current affinity list: 0,1\npid 4101's new affinity list: 3\n");
    CpuPinning.apply(qmp, List.of(3, 2), T, runner);
    assertThat(runner.commandLines()).containsExactly("taskset -pc 3 4101", "taskset -pc 2 4102");
  }

  @Test
  void vcpusBeyondTheList_stayUnpinned_andAnEmptyListAsksNothing() throws Exception {
    runner.when("taskset").thenPrint("");
    CpuPinning.apply(qmp, List.of(1), T, runner);
    CpuPinning.apply(qmp, List.of(), T, runner);
    assertThat(runner.commandLines()).containsExactly("taskset -pc 1 4101");
    assertThat(qemu.commandNames()).containsExactly("qmp_capabilities", "query-cpus-fast");
  }

  @Test
  void aFailingTaskset_isAnErrorWithWhatItSaid() {
    runner.when("taskset").thenFail(1, "taskset: failed to set pid 4101's affinity: Invalid argument\n");
    assertThatThrownBy(() -> CpuPinning.apply(qmp, List.of(7), T, runner))
        .hasMessage("taskset -pc 7 4101 exited with 1: taskset: failed to set pid 4101's affinity: Invalid argument");
  }
}
