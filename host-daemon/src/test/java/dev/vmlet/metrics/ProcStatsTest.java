package dev.vmlet.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcStatsTest {
  @TempDir Path proc;

  @Test
  void read_addsUserAndSystemTicks_andTakesVmRss_evenWhenTheCommandNameHasSpacesAndParentheses() throws Exception {
    Path pid = Files.createDirectories(proc.resolve("4242"));
    // Fields 14 and 15 (utime, stime) are 1234 and 766 ticks: 20 s at USER_HZ 100.
    Files.writeString(pid.resolve("stat"), "4242 (qemu) x (y)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 766 0 0 20 0 9 0 "
        + "500 100000 2000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n");
    Files.writeString(pid.resolve("status"), "Name:\tqemu\nState:\tS (sleeping)\nVmRSS:\t  123456 kB\nThreads:\t9\n");

    ProcStats s = ProcStats.read(proc, 4242).orElseThrow();

    assertThat(s.cpuSeconds()).isEqualTo(20.0);
    assertThat(s.residentBytes()).isEqualTo(123456L * 1024);
  }

  @Test
  void read_ofAProcessThatIsGone_isEmpty() {
    assertThat(ProcStats.read(proc, 99999)).isEmpty();
  }

  @Test
  void read_ofThisJvm_inTheRealProc_seesTheCpuItUsed() {
    ProcStats self = ProcStats.read(Path.of("/proc"), ProcessHandle.current().pid()).orElseThrow();
    assertThat(self.cpuSeconds()).isPositive();
    assertThat(self.residentBytes()).isGreaterThan(10L << 20);
  }
}
