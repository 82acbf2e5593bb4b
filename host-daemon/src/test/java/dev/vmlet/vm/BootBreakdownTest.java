package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BootBreakdownTest {
  // QEMU started at 10,000 ms; the Hello, written 3,000 ms into the guest's boot clock, arrived at
  // 13,800: the kernel started at 10,800.
  @Test
  void of_placesTheKernelsStartAtTheHellosArrivalMinusItsUptime() {
    BootBreakdown b = BootBreakdown.of(10_000, 13_800, 14_000, 1_200, 1_700, 2_600, 3_000);
    assertThat(b).isEqualTo(new BootBreakdown(800, 1_200, 500, 900, 400, 200));
    assertThat(b.firmwareMs() + b.kernelMs() + b.initMs() + b.agentJvmMs() + b.agentMainMs() + b.handshakeMs())
        .as("the phases add up to QEMU start to agent ready").isEqualTo(14_000 - 10_000);
  }

  @Test
  void of_withoutInitsTime_countsFromTheKernelsStart() {
    assertThat(BootBreakdown.of(10_000, 13_800, 14_000, 0, 1_700, 2_600, 3_000))
        .isEqualTo(new BootBreakdown(800, 0, 1_700, 900, 400, 200));
  }

  @Test
  void of_isNullForAnAgentThatReportsNoTimes() {
    assertThat(BootBreakdown.of(10_000, 13_800, 14_000, 0, 0, 0, 0)).isNull();
  }

  @Test
  void of_isNullForStepsOutOfOrder() {
    assertThat(BootBreakdown.of(10_000, 13_800, 14_000, 2_000, 1_700, 2_600, 3_000)).as("init after the JVM").isNull();
    assertThat(BootBreakdown.of(10_000, 13_800, 14_000, 1_200, 1_700, 2_600, 2_500)).as("Hello before main").isNull();
    assertThat(BootBreakdown.of(10_000, 9_000, 14_000, 1_200, 1_700, 2_600, 3_000)).as("Hello before QEMU").isNull();
  }

  @Test
  void of_givesNoNegativeFirmwareWhenTheClocksDisagree() {
    // A guest clock ahead of the daemon's would put the kernel's start before QEMU's.
    assertThat(BootBreakdown.of(10_000, 11_000, 11_200, 1_200, 1_700, 2_600, 3_000).firmwareMs()).isZero();
  }
}
