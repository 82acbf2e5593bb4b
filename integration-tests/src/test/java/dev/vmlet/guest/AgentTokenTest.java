package dev.vmlet.guest;

import dev.vmlet.agent.AgentLink;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.agent.v1.Hello;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-VM token: only an agent that holds it gets a session (real agent and link, no VM). */
class AgentTokenTest {
  @TempDir Path dir;

  private record Outcome(Hello ready, String refused) {}

  private Outcome connect(byte[] hostToken, Path agentTokenFile) throws Exception {
    try (LinkRelay relay = new LinkRelay(Files.createDirectories(dir.resolve("r" + System.nanoTime())))) {
      Agent agent = new Agent(new UnixSocketTransport(relay.agentSocket),
          Hello.newBuilder().setInstanceId("i-1").setBootId("b").setAgentVersion(Agent.VERSION).build(), Duration.ofMillis(100),
          Policy.allowAll());
      agent.tokenFile(agentTokenFile);
      Thread t = new Thread(() -> {
        try {
          agent.run();
        } catch (InterruptedException ignored) {
          // stopped
        }
      });
      t.setDaemon(true);
      t.start();
      BlockingQueue<Hello> ready = new LinkedBlockingQueue<>();
      BlockingQueue<String> refused = new LinkedBlockingQueue<>();
      AgentLink link = AgentLink.connect("vm", "i-1", relay.hostSocket, Duration.ofSeconds(5), Duration.ofSeconds(5),
          new AgentLink.Events() {
            @Override
            public void ready(Hello h) {
              ready.add(h);
            }

            @Override
            public void refused(String reason) {
              refused.add(reason);
            }

            @Override
            public void closed() {
            }
          }, hostToken);
      try {
        Hello h = ready.poll(5, TimeUnit.SECONDS);
        return new Outcome(h, h != null ? null : refused.poll(1, TimeUnit.SECONDS));
      } finally {
        link.close();
        agent.close();
      }
    }
  }

  @Test
  void theRightToken_getsASession() throws Exception {
    Path token = Files.write(dir.resolve("token"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    Outcome o = connect(Files.readAllBytes(token), token);
    assertThat(o.ready()).isNotNull();
    assertThat(o.ready().getInstanceId()).isEqualTo("i-1");
  }

  @Test
  void aWrongOrMissingToken_isRefused_andNeverReady() throws Exception {
    Path wrong = Files.write(dir.resolve("wrong"), new byte[] {9, 9, 9});
    Outcome o = connect(new byte[] {1, 2, 3}, wrong);
    assertThat(o.ready()).isNull();
    assertThat(o.refused()).contains("could not prove it runs in the VM this daemon made");
    Outcome missing = connect(new byte[] {1, 2, 3}, dir.resolve("no-such-token"));
    assertThat(missing.ready()).isNull();
    assertThat(missing.refused()).contains("wrong or missing VM token");
  }

  @Test
  void withoutATokenOnTheHost_noProofIsAsked() throws Exception {
    assertThat(connect(null, dir.resolve("no-such-token")).ready()).isNotNull();
  }
}
