package dev.vmlet.guest;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.proto.agent.v1.Hello;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One session attempt between the real agent and the daemon's real {@link AgentLink} over real
 * unix sockets (a {@link LinkRelay} in place of QEMU's chardev): the host expects one token, the
 * agent proves with the token in a file. Used by AgentTokenTest, and by TemplateIT with the tokens
 * a real template and its clones were given.
 */
public final class TokenSessions {
  private TokenSessions() {}

  /** The Hello of a session that began, or the reason the host refused it. */
  public record Outcome(Hello ready, String refused) {}

  /**
   * @param dir a directory for the relay's sockets
   * @param hostToken the token the host's link expects, null for none
   * @param agentTokenFile the file the agent reads its token from (it may not exist)
   */
  public static Outcome connect(Path dir, String instanceId, byte[] hostToken, Path agentTokenFile) throws Exception {
    try (LinkRelay relay = new LinkRelay(Files.createDirectories(dir.resolve("r" + System.nanoTime())))) {
      Agent agent = new Agent(new UnixSocketTransport(relay.agentSocket),
          Hello.newBuilder().setInstanceId(instanceId).setBootId("b").setAgentVersion(Agent.VERSION).build(), Duration.ofMillis(100),
          Policy.allowAll());
      agent.tokenFile(agentTokenFile);
      agent.identityFile(dir.resolve("no-identity")); // not fw_cfg: this host's own, if it has one, is not the VM's
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
      AgentLink link = AgentLink.connect("vm", instanceId, relay.hostSocket, Duration.ofSeconds(5), Duration.ofSeconds(5),
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
}
