package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.qemu.Accel;
import dev.vmlet.qemu.AccelProbe;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AccelProbeIT {
  @BeforeAll
  static void needsQemu() {
    Qemu.assumeInstalled();
  }

  @Test
  void probeGuest_runsToTheExitPort_underTcg() {
    // The same boot sector the KVM probe uses: proves the probe detects a guest that really runs.
    AccelProbe probe = new AccelProbe(Qemu.BINARY, Path.of("/dev/kvm"), Duration.ofSeconds(20));
    assertThat(probe.bootSector("tcg")).isNull();
  }

  @Test
  void probe_withNoKvmDevice_choosesTcgAndSaysWhy() {
    AccelProbe probe = new AccelProbe(Qemu.BINARY, Path.of("/nonexistent/kvm"), Duration.ofSeconds(3));
    Accel a = probe.probe();
    assertThat(a.name()).isEqualTo("tcg");
    assertThat(a.reason()).contains("/nonexistent/kvm does not exist");
  }

  @Test
  void probe_onThisHost_decidesWithinItsBound_andGivesAReason() {
    AccelProbe probe = new AccelProbe(Qemu.BINARY, Path.of("/dev/kvm"), Duration.ofSeconds(3));
    long t0 = System.nanoTime();
    Accel a = probe.probe();
    long ms = (System.nanoTime() - t0) / 1_000_000;
    System.out.println("accelerator on this host: " + a.name() + " — " + a.reason() + " (" + ms + " ms)");
    assertThat(a.name()).isIn("kvm", "tcg");
    assertThat(a.reason()).isNotBlank();
    assertThat(ms).isLessThan(8_000);
  }
}
