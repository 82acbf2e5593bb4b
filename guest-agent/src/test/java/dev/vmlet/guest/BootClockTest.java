package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BootClockTest {
  @Test
  void secondsToMs_readsTheFirstFigureOfAnUptimeLine() {
    assertThat(BootClock.secondsToMs("12.34 5.67\n")).isEqualTo(12_340);
    assertThat(BootClock.secondsToMs("3.07")).isEqualTo(3_070);
  }

  @Test
  void secondsToMs_givesZeroForWhatIsNotAnUptime() {
    assertThat(BootClock.secondsToMs("")).isZero();
    assertThat(BootClock.secondsToMs("soon")).isZero();
    assertThat(BootClock.secondsToMs("-1.0")).isZero();
    assertThat(BootClock.secondsToMs("1e300")).isZero();
  }

  @Test
  void nowMs_onLinux_isTheTimeSinceTheKernelStarted() {
    org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/uptime")),
        "no /proc/uptime on this machine");
    long a = BootClock.nowMs();
    assertThat(a).isPositive();
    assertThat(BootClock.nowMs()).isGreaterThanOrEqualTo(a);
  }
}
