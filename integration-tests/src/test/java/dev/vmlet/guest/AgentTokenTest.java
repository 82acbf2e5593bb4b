package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-VM token: only an agent that holds it gets a session (real agent and link, no VM). */
class AgentTokenTest {
  @TempDir Path dir;

  private TokenSessions.Outcome connect(byte[] hostToken, Path agentTokenFile) throws Exception {
    return TokenSessions.connect(dir, "i-1", hostToken, agentTokenFile);
  }

  @Test
  void theRightToken_getsASession() throws Exception {
    Path token = Files.write(dir.resolve("token"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    TokenSessions.Outcome o = connect(Files.readAllBytes(token), token);
    assertThat(o.ready()).isNotNull();
    assertThat(o.ready().getInstanceId()).isEqualTo("i-1");
  }

  @Test
  void aWrongOrMissingToken_isRefused_andNeverReady() throws Exception {
    Path wrong = Files.write(dir.resolve("wrong"), new byte[] {9, 9, 9});
    TokenSessions.Outcome o = connect(new byte[] {1, 2, 3}, wrong);
    assertThat(o.ready()).isNull();
    assertThat(o.refused()).contains("could not prove it runs in the VM this daemon made");
    TokenSessions.Outcome missing = connect(new byte[] {1, 2, 3}, dir.resolve("no-such-token"));
    assertThat(missing.ready()).isNull();
    assertThat(missing.refused()).contains("wrong or missing VM token");
  }

  @Test
  void withoutATokenOnTheHost_noProofIsAsked() throws Exception {
    assertThat(connect(null, dir.resolve("no-such-token")).ready()).isNotNull();
  }
}
