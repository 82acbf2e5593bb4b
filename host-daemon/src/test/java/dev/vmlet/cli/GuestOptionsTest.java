package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.spec.Credential;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestOptionsTest {
  @TempDir Path tmp;

  @Test
  void credentials_inlineAndFromFiles_anyBytes() throws Exception {
    Path f = tmp.resolve("blob");
    Files.write(f, new byte[] {0, 1, 2});
    List<Credential> c = GuestOptions.credentials(List.of("db.password=a=b"), List.of("blob=" + f));
    assertThat(c).containsExactly(new Credential("db.password", "a=b".getBytes(StandardCharsets.UTF_8)),
        new Credential("blob", new byte[] {0, 1, 2}));
  }

  @Test
  void credentials_badInput_saysWhatIsWrong_withoutTheValue() throws Exception {
    assertThatThrownBy(() -> GuestOptions.credentials(List.of("hunter2"), List.of()))
        .hasMessageContaining("--credential needs NAME=VALUE").hasMessageNotContaining("hunter2");
    assertThatThrownBy(() -> GuestOptions.credentials(List.of("bad/name=hunter2"), List.of()))
        .hasMessageContaining("--credential: credentials: name 'bad/name' is not allowed").hasMessageNotContaining("hunter2");
    assertThatThrownBy(() -> GuestOptions.credentials(List.of(), List.of("x=" + tmp.resolve("missing"))))
        .hasMessageContaining("cannot read the file");
    Path big = tmp.resolve("big");
    Files.write(big, new byte[Credential.MAX_VALUE + 1]);
    assertThatThrownBy(() -> GuestOptions.credentials(List.of(), List.of("x=" + big))).hasMessageContaining("at most 16384");
  }

  @Test
  void readSshKey_aLineOrAPubFile_notAPrivateKey() throws Exception {
    assertThat(GuestOptions.readSshKey("ssh-ed25519 AAAA me@h")).isEqualTo("ssh-ed25519 AAAA me@h");
    Path pub = tmp.resolve("k.pub");
    Files.writeString(pub, "ssh-ed25519 AAAA me@h\n");
    assertThat(GuestOptions.readSshKey(pub.toString())).isEqualTo("ssh-ed25519 AAAA me@h");
    Path priv = tmp.resolve("k");
    Files.writeString(priv, "-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n");
    assertThatThrownBy(() -> GuestOptions.readSshKey(priv.toString())).hasMessageContaining("give the .pub file");
  }

  /** A real ssh-agent of this test's own, holding a key made with ssh-keygen. */
  @Test
  void sshAgentKeys_ofARunningAgent_areItsPublicKeys_noneWithoutAnAgent() throws Exception {
    Path sock = tmp.resolve("agent.sock");
    Path key = tmp.resolve("id_ed25519");
    run(Map.of(), "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "agent-test", "-f", key.toString());
    Process agent = new ProcessBuilder("ssh-agent", "-D", "-a", sock.toString()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    try {
      // The socket file appears at bind(2), before ssh-agent listens: a connect in between is
      // refused. `ssh-add -l` exits 1 ("no identities") once it answers, 2 while it cannot connect.
      dev.vmlet.common.testing.Poll.until("ssh-agent answers", java.time.Duration.ofSeconds(30),
          () -> exitCode(Map.of("SSH_AUTH_SOCK", sock.toString()), "ssh-add", "-l") == 1);
      assertThat(GuestOptions.sshAgentKeys(sock.toString())).isEmpty(); // an agent without keys
      run(Map.of("SSH_AUTH_SOCK", sock.toString()), "ssh-add", "-q", key.toString());
      assertThat(GuestOptions.sshAgentKeys(sock.toString()))
          .containsExactly(Files.readString(tmp.resolve("id_ed25519.pub")).strip());
    } finally {
      agent.destroy();
      agent.waitFor(10, TimeUnit.SECONDS);
    }
    assertThat(GuestOptions.sshAgentKeys(null)).isEmpty();
    assertThat(GuestOptions.sshAgentKeys(tmp.resolve("no-agent").toString())).isEmpty();
  }

  private static int exitCode(Map<String, String> env, String... argv) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().putAll(env);
    Process p = pb.start();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }

  private static void run(Map<String, String> env, String... argv) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", argv) + ": " + out).isZero();
  }
}
