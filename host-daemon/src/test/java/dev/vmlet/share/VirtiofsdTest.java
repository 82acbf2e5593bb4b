package dev.vmlet.share;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.spec.Share;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VirtiofsdTest {
  @TempDir Path dir;

  @Test
  void command_readWrite_runsVirtiofsdInItsNamespaceSandbox() {
    assertThat(Virtiofsd.command(Virtiofsd.BINARY, new Share("/srv/work", "/mnt/work", false), Path.of("/run/vm/fs0.sock")))
        .containsExactly("/usr/lib/qemu/virtiofsd", "--socket-path=/run/vm/fs0.sock", "-o", "source=/srv/work",
            "-o", "sandbox=namespace", "-o", "cache=auto");
  }

  @Test
  void command_readOnly_bindsTheDirectoryReadOnlyInAPrivateMountNamespaceAndChroots() {
    assertThat(Virtiofsd.command(Virtiofsd.BINARY, new Share("/srv/in", "/mnt/in", true), Path.of("/run/vm/fs1.sock")))
        .containsExactly("/usr/bin/unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c",
            "mount --bind -o ro -- \"$0\" \"$0\" && exec \"$@\"", "/srv/in",
            "/usr/lib/qemu/virtiofsd", "--socket-path=/run/vm/fs1.sock", "-o", "source=/srv/in",
            "-o", "sandbox=chroot", "-o", "cache=auto");
  }

  @Test
  void start_whenItExitsFirst_saysSoWithItsOutput() {
    Path socket = dir.resolve("fs0.sock");
    assertThatThrownBy(() -> Virtiofsd.start(List.of("/bin/sh", "-c", "echo no such source >&2; exit 1"), socket,
            Virtiofsd.pidFile(dir, 0), dir.resolve("log")))
        .isInstanceOf(IOException.class).hasMessageContaining("virtiofsd failed to start (exit 1): no such source");
  }

  @Test
  void start_returnsOnceTheSocketExists_andStopAllEndsIt() throws Exception {
    Path socket = dir.resolve("fs0.sock");
    // A stand-in that makes its "socket" and waits, with the --socket-path argument stopAll looks for
    // (no exec: the shell's command line must keep it).
    ProcessHandle h = Virtiofsd.start(List.of("/bin/sh", "-c", "touch \"$0\"; while :; do sleep 0.1; done", socket.toString(),
        "--socket-path=" + socket), socket, Virtiofsd.pidFile(dir, 0), dir.resolve("log"));
    assertThat(h.isAlive()).isTrue();
    Virtiofsd.stopAll(dir);
    assertThat(h.onExit().get(5, TimeUnit.SECONDS).isAlive()).isFalse();
    assertThat(Virtiofsd.pidFile(dir, 0)).doesNotExist();
  }

  @Test
  void stopAll_leavesAProcessThatIsNotThisVmsVirtiofsd() throws Exception {
    // A recycled pid: the pidfile names a live process that serves no socket in this run directory.
    Process other = new ProcessBuilder("sleep", "60").start();
    try {
      Files.writeString(Virtiofsd.pidFile(dir, 0), Long.toString(other.pid()));
      Virtiofsd.stopAll(dir);
      assertThat(other.isAlive()).isTrue();
      assertThat(Virtiofsd.pidFile(dir, 0)).doesNotExist();
    } finally {
      other.destroyForcibly();
    }
  }
}
