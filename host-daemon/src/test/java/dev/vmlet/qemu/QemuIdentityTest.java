package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which process re-adoption takes for a VM's QEMU: the decisions, from what /proc said. */
class QemuIdentityTest {
  private static final Path PIDFILE = Path.of("/run/vmlet/vms/a/qemu.pid");
  private static final long LAUNCHED = 1_700_000_000_000L;

  private static QemuIdentity qemu(long startMs, String... argv) {
    return new QemuIdentity(42, true, "/usr/bin/qemu-system-x86_64", startMs, List.of(argv));
  }

  @Test
  void aQemuNamingTheVmsPidfile_isTheVms_evenWhenItsStartTimeIsFarFromTheRecordedLaunch() {
    // A wall clock stepped between launch and re-adoption moves /proc start times; the command line does not move.
    assertThat(qemu(LAUNCHED + 3_600_000, "qemu-system-x86_64", "-pidfile", PIDFILE.toString()).mismatch(PIDFILE, LAUNCHED)).isEmpty();
  }

  @Test
  void aQemuOfAnotherVm_onARecycledPid_isNotTheVms_evenStartedAtTheSameMoment() {
    assertThat(qemu(LAUNCHED, "qemu-system-x86_64", "-pidfile", "/run/vmlet/vms/b/qemu.pid").mismatch(PIDFILE, LAUNCHED))
        .hasValueSatisfying(why -> assertThat(why).isEqualTo("pid 42 is the QEMU of another VM (its pidfile is /run/vmlet/vms/b/qemu.pid)"));
  }

  @Test
  void withoutACommandLine_aQemuStartedWithinTheSlack_isTheVms_whateverTheClockTickRounding() {
    assertThat(qemu(LAUNCHED + 999).mismatch(PIDFILE, LAUNCHED)).isEmpty();
    assertThat(qemu(LAUNCHED - 1_000).mismatch(PIDFILE, LAUNCHED)).as("start time read a second early (btime in whole seconds)").isEmpty();
    assertThat(qemu(LAUNCHED + QemuIdentity.START_SLACK.toMillis()).mismatch(PIDFILE, LAUNCHED)).isEmpty();
  }

  @Test
  void withoutACommandLine_aQemuStartedLongAfterTheLaunch_isARecycledPid() {
    assertThat(qemu(LAUNCHED + 120_000).mismatch(PIDFILE, LAUNCHED))
        .hasValue("pid 42 started 120 s from the VM's launch: another program");
  }

  @Test
  void anUnknownStartOrLaunchTime_isNoReasonToDisown() {
    assertThat(qemu(0).mismatch(PIDFILE, LAUNCHED)).isEmpty();
    assertThat(qemu(LAUNCHED + 120_000).mismatch(PIDFILE, 0)).isEmpty();
  }

  @Test
  void aProcessThatIsNotQemu_orDoesNotRun_isNotTheVms() {
    assertThat(new QemuIdentity(42, true, "/usr/bin/bash", LAUNCHED, List.of()).mismatch(PIDFILE, LAUNCHED))
        .hasValue("pid 42 is /usr/bin/bash, not QEMU");
    assertThat(new QemuIdentity(42, false, "", 0, List.of()).mismatch(PIDFILE, LAUNCHED)).hasValue("pid 42 does not run");
  }

  @Test
  void read_ofThisJvm_seesItRunningWithItsCommandLine() {
    QemuIdentity self = QemuIdentity.read(ProcessHandle.current().pid());
    assertThat(self.running()).isTrue();
    assertThat(self.startMs()).isPositive();
    assertThat(self.argv()).isNotEmpty();
    assertThat(self.mismatch(PIDFILE, LAUNCHED)).hasValueSatisfying(why -> assertThat(why).endsWith("not QEMU"));
  }
}
