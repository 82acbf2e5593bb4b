package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.v1.BootBreakdown;
import org.junit.jupiter.api.Test;

class InfoCommandTest {
  @Test
  void breakdown_printsEveryPhaseInSeconds() {
    BootBreakdown b = BootBreakdown.newBuilder().setFirmwareMs(800).setKernelMs(1_200).setInitMs(500).setAgentJvmMs(900)
        .setAgentMainMs(400).setHandshakeMs(210).build();
    assertThat(InfoCommand.breakdown(b)).isEqualTo(
        "firmware 0.80 s, kernel 1.20 s, init 0.50 s, agent JVM 0.90 s, agent main 0.40 s, handshake 0.21 s");
  }
}
