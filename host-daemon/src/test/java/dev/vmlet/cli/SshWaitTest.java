package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmState;
import org.junit.jupiter.api.Test;

class SshWaitTest {
  private static final long START = 1_000_000;
  private final Vm booting = Vm.newBuilder().setState(VmState.RUNNING).setStartedAtUnixMs(START)
      .setSshHost("127.0.0.1").setSshPort(2222).build();

  @Test
  void aBootingGuest_isDescribedByWhatHasNotHappenedYet() {
    assertThat(SshWait.boot(booting, START + 12_400))
        .isEqualTo("started 12 s ago; agent not connected yet; cloud-init not finished yet (vmlet info shows the moment it does)");
    Vm done = booting.toBuilder().setAgentReady(true).setCloudInitDoneUnixMs(START + 41_500).build();
    assertThat(SshWait.boot(done, START + 50_000)).isEqualTo("started 50 s ago; agent connected; cloud-init finished 41.5 s after the start");
  }

  @Test
  void notUp_saysPlainlyWhereItLookedAndWhatToDo() {
    assertThat(SshWait.notUp("web", booting, START + 5_000, 300))
        .startsWith("SSH is not up yet in VM 'web': nothing answers as an SSH server on 127.0.0.1:2222 after waiting 300 s (started 5 s ago;")
        .endsWith("wait longer with --wait SECONDS, or watch the boot with: vmlet console web");
    assertThat(SshWait.notUp("web", booting.toBuilder().setState(VmState.STOPPED).build(), START, 0))
        .isEqualTo("VM 'web' is STOPPED, not RUNNING: SSH will not come up (vmlet start web)");
  }
}
