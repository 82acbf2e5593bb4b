package dev.vmlet.tpm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SwtpmTest {
  @TempDir Path dir;

  @Test
  void command_isATpm2InSocketModeThatEndsWithQemusConnection_behindThePrefix() {
    assertThat(Swtpm.command(List.of("/usr/bin/setpriv", "--reuid=996", "--"), Swtpm.BINARY, Path.of("/var/lib/vm/tpm"),
        Path.of("/run/vm/tpm.sock")))
        .containsExactly("/usr/bin/setpriv", "--reuid=996", "--", "/usr/bin/swtpm", "socket", "--tpm2",
            "--tpmstate", "dir=/var/lib/vm/tpm,mode=0600", "--ctrl", "type=unixio,path=/run/vm/tpm.sock,mode=0600",
            "--log", "fd=1,level=1", "--terminate");
  }

  @Test
  void command_refusesAPathWithAComma_whichSwtpmWouldSplit() {
    assertThatThrownBy(() -> Swtpm.command(List.of(), Swtpm.BINARY, Path.of("/var/a,b/tpm"), Path.of("/run/vm/tpm.sock")))
        .isInstanceOf(VmException.class).hasMessageContaining("swtpm cannot take the path /var/a,b/tpm, which holds a comma");
  }

  @Test
  void check_withoutSwtpm_namesThePackage() {
    assertThatThrownBy(() -> Swtpm.check(dir.resolve("swtpm"))).isInstanceOf(VmException.class)
        .hasMessageEndingWith("is missing; install it with: apt-get install swtpm");
  }

  /** The real swtpm (Debian's package; scripts/lib/deps.sh installs it): it listens, keeps its state where told, and stops. */
  @Test
  void start_runsTheRealSwtpmUntilItsSocketExists_andStopEndsIt() throws Exception {
    assumeTrue(Files.isExecutable(Swtpm.BINARY), "swtpm is not installed (apt-get install swtpm)");
    Path state = Files.createDirectory(dir.resolve("tpm"));
    Path socket = dir.resolve("tpm.sock");
    ProcessHandle h = Swtpm.start(Swtpm.command(List.of(), Swtpm.BINARY, state, socket), socket, dir, dir.resolve("swtpm.log"));
    try {
      assertThat(h.isAlive()).isTrue();
      assertThat(socket).exists();
      assertThat(Swtpm.pidFile(dir)).hasContent(Long.toString(h.pid()));
    } finally {
      Swtpm.stop(dir);
    }
    assertThat(h.onExit().get(10, TimeUnit.SECONDS).isAlive()).isFalse();
    assertThat(Swtpm.pidFile(dir)).doesNotExist();
  }

  @Test
  void start_whenSwtpmFails_saysSoWithItsOutput() {
    assumeTrue(Files.isExecutable(Swtpm.BINARY), "swtpm is not installed (apt-get install swtpm)");
    Path socket = dir.resolve("no-such-dir").resolve("tpm.sock");
    assertThatThrownBy(() -> Swtpm.start(Swtpm.command(List.of(), Swtpm.BINARY, dir, socket), socket, dir, dir.resolve("swtpm.log")))
        .hasMessage("swtpm failed to start (exit 1): Could not open UnixIO socket: No such file or directory");
  }
}
