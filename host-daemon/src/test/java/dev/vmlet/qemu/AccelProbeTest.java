package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proc.FakeProcessRunner;
import dev.vmlet.proc.FakeProcessRunner.Reply;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The KVM decision with the probe QEMU scripted: a guest that runs, one that hangs, one QEMU refuses. */
class AccelProbeTest {
  @TempDir Path dir;
  private final FakeProcessRunner runner = new FakeProcessRunner();
  private AccelProbe probe;

  @BeforeEach
  void kvmDevice() throws Exception {
    Path kvm = Files.createFile(dir.resolve("kvm"));
    probe = new AccelProbe("qemu", kvm, Duration.ofSeconds(3), runner);
  }

  @Test
  void aGuestThatReachesTheExitPort_makesKvmTheChoice_probedOncePerDaemon() {
    runner.when("qemu").thenAnswer(r -> Reply.exit(AccelProbe.EXPECTED_EXIT, "", ""));
    assertThat(probe.resolve("auto").name()).isEqualTo("kvm");
    assertThat(probe.resolve("kvm").name()).isEqualTo("kvm");
    assertThat(runner.calls()).singleElement().satisfies(r -> {
      assertThat(r.command()).containsSubsequence("-accel", "kvm", "-cpu", "host");
      assertThat(r.timeout()).isEqualTo(Duration.ofSeconds(3));
    });
  }

  @Test
  void aKvmThatHangs_fallsBackToTcg_withTheBoundInTheReason() {
    runner.when("qemu").thenTimeOut();
    Accel a = probe.probe();
    assertThat(a.name()).isEqualTo("tcg");
    assertThat(a.reason()).isEqualTo("KVM probe failed (guest did not run within 3000 ms); using TCG");
  }

  @Test
  void aQemuThatRefusesTheCpu_isReportedByItsErrorLine_notTheWarningBefore() {
    runner.when("qemu").thenAnswer(r -> Reply.exit(1, "", "qemu: warning: host doesn't support requested feature\n"
        + "qemu: error: failed to set MSR 0x10a to 0x0\n"));
    assertThat(probe.probe().reason()).isEqualTo("KVM probe failed (qemu exited with 1: qemu: error: failed to set MSR 0x10a to 0x0);"
        + " using TCG");
    assertThatThrownBy(() -> probe.resolve("kvm")).hasMessageStartingWith("KVM requested but not usable: KVM probe failed");
  }

  @Test
  void aMissingQemu_isTheReason_andTcgRequested_runsNothing() {
    assertThat(probe.probe().reason()).startsWith("KVM probe failed (cannot run qemu: Cannot run program \"qemu\"");
    assertThat(probe.resolve("tcg").reason()).isEqualTo("TCG requested");
    assertThat(runner.calls()).hasSize(1);
  }

  @Test
  void inContainer_knowsDockersMarkerAndAKubernetesCgroup_andNotAPlainHost() throws Exception {
    Path host = Files.createDirectories(dir.resolve("host/proc/1"));
    Files.writeString(host.resolve("cgroup"), "0::/init.scope\n");
    Path docker = Files.createDirectories(dir.resolve("docker"));
    Files.createFile(docker.resolve(".dockerenv"));
    Path pod = Files.createDirectories(dir.resolve("pod/proc/1"));
    Files.writeString(pod.resolve("cgroup"), "12:memory:/kubepods/burstable/pod1/abc\n");

    assertThat(AccelProbe.inContainer(dir.resolve("host"))).isFalse();
    assertThat(AccelProbe.inContainer(docker)).isTrue();
    assertThat(AccelProbe.inContainer(dir.resolve("pod"))).isTrue();
    assertThat(AccelProbe.NO_DEVICE_IN_CONTAINER).contains("moby/swarmkit#1244").contains("docker run --device /dev/kvm")
        .contains("device plugin");
  }
}
