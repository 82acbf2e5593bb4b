package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proc.FakeProcessRunner;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** The SSH probe with ssh scripted: the command line, the output bound, a hung session. */
class SshProbeTest {
  private static final Path KEY = Path.of("/state/vms/a/ssh/id_ed25519");
  private final FakeProcessRunner runner = new FakeProcessRunner();

  @Test
  void aCommand_runsAsVmletWithTheVmsKey_neverAskingAnything() throws Exception {
    runner.when("ssh").thenPrint("status: done\n");
    SshProbe.Result r = SshProbe.run(runner, "127.0.0.1", 2222, KEY, Duration.ofSeconds(7), List.of("uptime"));
    assertThat(r).isEqualTo(new SshProbe.Result(0, "status: done"));
    assertThat(runner.calls()).singleElement().satisfies(c -> {
      assertThat(c.command()).containsSubsequence("ssh", "-i", KEY.toString(), "-p", "2222", "BatchMode=yes",
          "ConnectTimeout=7", "vmlet@127.0.0.1", "uptime");
      assertThat(c.stdin()).isNull();
      assertThat(c.outputLimit()).isEqualTo(SshProbe.MAX_OUTPUT);
      assertThat(c.timeout()).isEqualTo(Duration.ofSeconds(7));
    });
  }

  @Test
  void aHungSession_endsAtItsBound_withExitMinusOne() throws Exception {
    runner.when("ssh").thenTimeOut();
    assertThat(SshProbe.run(runner, "h", 22, KEY, Duration.ofSeconds(5), List.of("true")))
        .isEqualTo(new SshProbe.Result(-1, "ssh did not finish within 5 s"));
  }

  @Test
  void cloudInitStatus_saysWhenTheGuestPrintedNothing_orSshIsMissing() {
    runner.when("ssh").thenFail(255, "");
    assertThat(SshProbe.cloudInitStatus(runner, "h", 22, KEY)).isEqualTo("(no output, exit 255)");
    assertThat(SshProbe.cloudInitStatus(new FakeProcessRunner(), "h", 22, KEY)).startsWith("cannot run ssh: Cannot run program \"ssh\"");
  }

  @Test
  void answersBanner_onlyForAServerThatSaysSsh() throws Exception {
    try (ServerSocket ssh = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        ServerSocket other = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Thread server = new Thread(() -> {
        try (Socket s = ssh.accept()) {
          s.getOutputStream().write("SSH-2.0-OpenSSH_9.2\r\n".getBytes(StandardCharsets.US_ASCII));
          s.getInputStream().read(); // until the client closes
        } catch (IOException ignored) {
          // the client went away
        }
      });
      server.start();
      assertThat(SshProbe.answersBanner("127.0.0.1", ssh.getLocalPort())).isTrue();
      server.join(5000);
      // Accepts and says nothing, as QEMU's user-mode forward does before the guest's sshd is up.
      assertThat(SshProbe.answersBanner("127.0.0.1", other.getLocalPort())).isFalse();
    }
  }
}
