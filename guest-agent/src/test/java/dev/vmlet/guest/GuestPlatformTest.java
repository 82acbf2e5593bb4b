package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Both guest families, whatever this machine is: the Windows code path is tested on Linux. */
class GuestPlatformTest {
  private final GuestPlatform windows = new GuestPlatform("Windows Server 2022");
  private final GuestPlatform linux = new GuestPlatform("Linux");

  @Test
  void windows_usesCmdTheGlobalVirtioPortAndCom2() {
    assertThat(windows.isWindows()).isTrue();
    assertThat(windows.shellArgv("dir C:\\")).containsExactly("cmd", "/c", "dir C:\\");
    assertThat(windows.defaultPort()).isEqualTo("\\\\.\\Global\\dev.vmlet.agent.0");
    assertThat(windows.defaultSerialPort()).isEqualTo("COM2");
    assertThat(windows.powerArgv(false)).containsExactly("shutdown", "/s", "/t", "0");
    assertThat(windows.powerArgv(true)).containsExactly("shutdown", "/r", "/t", "0");
    assertThatThrownBy(() -> windows.asUser("bob", List.of("whoami"))).hasMessageContaining("not supported in Windows guests");
  }

  @Test
  void linux_usesShTheVirtioPortsPathAndTtyS1() {
    assertThat(linux.isWindows()).isFalse();
    assertThat(linux.shellArgv("ls -la | wc -l")).containsExactly("/bin/sh", "-c", "ls -la | wc -l");
    assertThat(linux.defaultPort()).isEqualTo("/dev/virtio-ports/dev.vmlet.agent.0");
    assertThat(linux.defaultSerialPort()).isEqualTo("/dev/ttyS1");
    assertThat(linux.powerArgv(false)).containsExactly("poweroff");
    // argv is passed through untouched: runuser takes it as is, su through exec "$0" "$@".
    List<String> argv = linux.asUser("bob", List.of("printf", "%s\\n", "a b", "$HOME"));
    assertThat(argv.subList(argv.size() - 4, argv.size())).containsExactly("printf", "%s\\n", "a b", "$HOME");
    assertThat(argv.get(0)).satisfiesAnyOf(a -> assertThat(a).endsWith("runuser"), a -> assertThat(a).isEqualTo("su"));
  }

  @Test
  void session_outsideABundle_isTheGuestsSetsid_andKeepsTheProgramsName() {
    assertThat(windows.session()).isNull();
    GuestPlatform.Session s = linux.session(); // from classes, not a bundle's jar: no bundled busybox
    if (s != null) {
      assertThat(s.prefix()).singleElement().asString().endsWith("setsid");
      assertThat(s.absoluteProgram()).isFalse();
    }
  }
}
