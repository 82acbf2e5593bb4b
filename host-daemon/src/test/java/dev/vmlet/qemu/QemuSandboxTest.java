package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.proc.FakeProcessRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The seccomp probe and QEMU's user, with qemu, id, useradd and getent scripted. */
class QemuSandboxTest {
  private final FakeProcessRunner runner = new FakeProcessRunner();

  @Test
  void aQemuBuiltWithSeccomp_getsTheWholeFilter() {
    runner.when("qemu", "-sandbox").thenPrint("QEMU emulator version 7.2.22\n");
    assertThat(QemuSandbox.probe("qemu", runner)).isEqualTo(QemuSandbox.OPTIONS);
    assertThat(runner.commandLines()).containsExactly("qemu -sandbox " + QemuSandbox.OPTIONS + " -version");
  }

  @Test
  void aQemuWithoutSeccomp_orOneThatHangs_orNone_runsUnfiltered() {
    runner.when("qemu-noseccomp").thenFail(1, "qemu: -sandbox on: There is no option group 'sandbox'\n")
        .when("qemu-hung").thenTimeOut();
    assertThat(QemuSandbox.probe("qemu-noseccomp", runner)).isEmpty();
    assertThat(QemuSandbox.probe("qemu-hung", runner)).isEmpty();
    assertThat(QemuSandbox.probe("qemu-missing", runner)).isEmpty();
  }

  @Test
  void aMissingUser_isCreatedAsASystemUser_thenLookedUp() {
    assumeTrue(Files.isExecutable(Path.of(QemuUser.SETPRIV)), "needs setpriv (util-linux)");
    runner.when("id", "-u").thenFail(1, "id: 'vmlet-qemu': no such user\n")
        .when("useradd").thenPrint("")
        .when("getent", "passwd").thenPrint("vmlet-qemu:x:998:996::/nonexistent:/usr/sbin/nologin\n");
    QemuUser u = QemuSandbox.ensureUser(runner);
    assertThat(u.uid()).isEqualTo(998);
    assertThat(u.gid()).isEqualTo(996);
    assertThat(runner.commandLines()).containsExactly("id -u vmlet-qemu",
        "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin vmlet-qemu",
        "getent passwd vmlet-qemu");
  }

  @Test
  void aUserThatCannotBeMade_saysHowToMakeIt() {
    runner.when("id").thenFail(1, "").when("useradd").thenFail(1, "useradd: Permission denied.\n");
    assertThatThrownBy(() -> QemuSandbox.ensureUser(runner))
        .hasMessageContaining("cannot create the user vmlet-qemu").hasMessageContaining("create it with: useradd --system");
  }

  @Test
  void aUserGetentDoesNotKnow_isAnErrorQuotingWhatItPrinted() {
    runner.when("getent").thenFail(2, "");
    assertThatThrownBy(() -> QemuSandbox.lookup(runner)).hasMessage("cannot look up the user vmlet-qemu that QEMU runs as:"
        + " getent passwd vmlet-qemu printed ''");
  }
}
