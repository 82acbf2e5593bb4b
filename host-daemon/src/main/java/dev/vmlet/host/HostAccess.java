package dev.vmlet.host;

import dev.vmlet.agent.AgentLink;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether and how @target lines reach the daemon's own host: the names that mean the host
 * ({@code host} and any configured aliases, which take precedence over VMs of the same name) and
 * its agent, which exists only when the daemon was started with {@code --allow-host-exec}.
 *
 * <p>Only admin callers may use it: root or the daemon's user on the unix socket, an admin
 * certificate over TLS (checked where lines run).
 */
public final class HostAccess implements AutoCloseable {
  private final Set<String> aliases;
  private final HostAgent agent;

  public HostAccess(List<String> extraAliases, HostAgent agent) {
    Set<String> names = new LinkedHashSet<>();
    names.add("host");
    names.addAll(extraAliases);
    this.aliases = Set.copyOf(names);
    this.agent = agent;
  }

  public static HostAccess disabled() {
    return new HostAccess(List.of(), null);
  }

  public boolean isHost(String name) {
    return aliases.contains(name);
  }

  public boolean enabled() {
    return agent != null;
  }

  /**
   * The host's agent for the alias {@code name}.
   *
   * @throws SecurityException when host execution is off, saying how to turn it on
   */
  public AgentLink link(String name) {
    if (agent == null) {
      throw new SecurityException("@" + name + " is this daemon's own host, and running commands there is off; start the daemon"
          + " with 'vmlet daemon --allow-host-exec' to allow it (admin callers only)");
    }
    try {
      return agent.link(Duration.ofSeconds(15));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the host's agent");
    }
  }

  @Override
  public void close() {
    if (agent != null) {
      agent.close();
    }
  }
}
