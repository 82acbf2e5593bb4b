package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.testing.SshAgent;
import dev.vmlet.spec.Credential;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
    try (SshAgent agent = SshAgent.start(tmp.resolve("agent"))) {
      assertThat(GuestOptions.sshAgentKeys(agent.socket.toString())).isEmpty(); // an agent without keys
      String key = agent.addNewKey("agent-test");
      assertThat(GuestOptions.sshAgentKeys(agent.socket.toString())).containsExactly(key);
    }
    assertThat(GuestOptions.sshAgentKeys(null)).isEmpty();
    assertThat(GuestOptions.sshAgentKeys(tmp.resolve("no-agent").toString())).isEmpty();
  }
}
