package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.spec.VmConfig;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.assertj.core.api.Assertions;

/** What one published snapshot of a VM holds together: the agent's state and QEMU's. */
class VmSnapshotTest {
  private static final Hello BOOT_1 = Hello.newBuilder().setBootId("boot-1").build();
  private static final Hello BOOT_2 = Hello.newBuilder().setBootId("boot-2").build();

  private static VmRuntime vm() {
    return new VmRuntime(VmRecord.created(VmConfig.builder("snap").build(), "iid", null).withState(VmState.RUNNING)
        .withStarted(42, "tcg", "", 0, "", List.of()), new VmFiles(Path.of("/nonexistent/run"), Path.of("/nonexistent/state")));
  }

  @Test
  void anAgentReady_carriesItsReadyTime_inTheSameSnapshot() {
    AgentState a = AgentState.NONE.ready(BOOT_1, 1_000);
    assertThat(a.hello()).isEqualTo(BOOT_1);
    assertThat(a.readyAtMs()).isEqualTo(1_000);
  }

  @Test
  void aNewSessionOfTheSameBoot_keepsTheBootsReadyTime() {
    AgentState again = AgentState.NONE.ready(BOOT_1, 1_000).lost().ready(BOOT_1, 5_000);
    assertThat(again.readyAtMs()).isEqualTo(1_000);
  }

  @Test
  void aNewBoot_restartsTheReadyTime_andForgetsARefusal() {
    AgentState next = AgentState.NONE.ready(BOOT_1, 1_000).refused("protocol 9 is not spoken here").ready(BOOT_2, 7_000);
    assertThat(next.readyAtMs()).isEqualTo(7_000);
    assertThat(next.refusal()).isNull();
  }

  @Test
  void qemuGone_dropsProcessLinksAndAgentSession_together() {
    VmRuntime vm = vm();
    synchronized (vm) {
      vm.publish(s -> s.withQemu(ProcessHandle.current(), null).withLinks(new QemuLinks(null, null, null)));
    }
    vm.report(s -> s.withAgent(s.agent().ready(BOOT_1, 1_000)));
    VmSnapshot live = vm.now();
    synchronized (vm) {
      vm.publish(VmSnapshot::withoutQemu);
    }
    VmSnapshot gone = vm.now();
    assertThat(live.agent().hello()).as("the snapshot taken before is unchanged").isEqualTo(BOOT_1);
    assertThat(gone.process()).isNull();
    assertThat(gone.links()).isNull();
    assertThat(gone.agent().hello()).isNull();
    assertThat(gone.agent().readyAtMs()).isEqualTo(1_000);
  }

  @Test
  void aChangeWithoutTheOwner_isRefused() {
    VmRuntime vm = vm();
    Assertions.assertThatThrownBy(() -> vm.publish(s -> s.withRecord(s.record().withPid(0))))
        .isInstanceOf(AssertionError.class).hasMessageContaining("without its owner");
  }
}
