package dev.vmlet.fleet;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Hashtable;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.naming.Context;
import javax.naming.NameNotFoundException;
import javax.naming.NamingEnumeration;
import javax.naming.NamingException;
import javax.naming.directory.Attribute;
import javax.naming.directory.DirContext;
import javax.naming.directory.InitialDirContext;

/**
 * Where a daemon's peers are published: a DNS name whose A and AAAA records are the addresses of
 * the fleet's daemons (Swarm's {@code tasks.SERVICE}, a Kubernetes headless Service), and the port
 * they listen on with mutual TLS. Written like grpc's {@code dns:} target:
 * <pre>
 * dns:NAME:PORT                      the host's resolvers (/etc/resolv.conf)
 * dns://SERVER[:DNSPORT]/NAME:PORT   one DNS server (DNSPORT 53 by default)
 * </pre>
 * Asked through the JDK's DNS client (JNDI, {@code jdk.naming.dns}) every time: it keeps no cache,
 * unlike {@link InetAddress}, whose 30 s cache would hide a task that came or went.
 */
public record PeerSource(String server, int serverPort, String name, int port) {
  private static final Pattern SPEC = Pattern.compile(
      "dns:(?://(\\[[0-9a-fA-F:]+\\]|[^/:\\[\\]]+)(?::([0-9]{1,5}))?/)?([A-Za-z0-9_][A-Za-z0-9_.-]*):([0-9]{1,5})");
  private static final String SYNTAX = "expected dns:NAME:PORT or dns://SERVER[:DNSPORT]/NAME:PORT (e.g. dns:tasks.vmlet:7443)";

  public PeerSource {
    if (name == null || name.isEmpty()) {
      throw new IllegalArgumentException("a peer source needs a DNS name; " + SYNTAX);
    }
    if (port < 1 || port > 65535 || (server != null && (serverPort < 1 || serverPort > 65535))) {
      throw new IllegalArgumentException("a port is 1-65535; " + SYNTAX);
    }
  }

  /** Parses {@code --peers}; a clear error with the syntax otherwise. */
  public static PeerSource parse(String spec) {
    Matcher m = SPEC.matcher(spec == null ? "" : spec);
    if (!m.matches()) {
      throw new IllegalArgumentException("--peers '" + spec + "': " + SYNTAX);
    }
    String server = m.group(1) == null ? null : m.group(1).replace("[", "").replace("]", "");
    int serverPort = m.group(2) == null ? 53 : Integer.parseInt(m.group(2));
    return new PeerSource(server, serverPort, m.group(3), Integer.parseInt(m.group(4)));
  }

  /** As it was written (normalised). */
  @Override
  public String toString() {
    String host = server == null ? "" : "//" + (server.contains(":") ? "[" + server + "]" : server) + ":" + serverPort + "/";
    return "dns:" + host + name + ":" + port;
  }

  /**
   * The name's addresses now, in the order of the answer; none when the name does not exist (no
   * task runs: Swarm's DNS then answers NXDOMAIN).
   *
   * @throws IOException when the DNS server cannot be asked or fails
   */
  public List<InetAddress> resolve() throws IOException {
    Hashtable<String, String> env = new Hashtable<>();
    env.put(Context.INITIAL_CONTEXT_FACTORY, "com.sun.jndi.dns.DnsContextFactory");
    env.put(Context.PROVIDER_URL, server == null ? "dns:" : "dns://" + (server.contains(":") ? "[" + server + "]" : server) + ":"
        + serverPort);
    // Bounded: 1 s, then 2 s (JNDI doubles the time-out at each retry).
    env.put("com.sun.jndi.dns.timeout.initial", "1000");
    env.put("com.sun.jndi.dns.timeout.retries", "2");
    DirContext ctx = null;
    try {
      ctx = new InitialDirContext(env);
      // One query per type: asked for both at once, JNDI sends a single ANY query, which Docker's
      // embedded DNS server (Swarm's tasks.SERVICE) answers with NXDOMAIN.
      List<InetAddress> out = new ArrayList<>();
      for (String type : List.of("A", "AAAA")) {
        Attribute a;
        try {
          a = ctx.getAttributes(name, new String[] {type}).get(type);
        } catch (NameNotFoundException e) {
          continue; // no task runs (NXDOMAIN), or none with this kind of address
        }
        if (a == null) {
          continue;
        }
        NamingEnumeration<?> values = a.getAll();
        while (values.hasMore()) {
          out.add(literal(values.next().toString()));
        }
      }
      return out;
    } catch (NamingException e) {
      throw new IOException("cannot resolve " + name + (server == null ? " with the host's resolvers" : " at " + server + ":"
          + serverPort) + ": " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " " + e.getMessage()), e);
    } finally {
      if (ctx != null) {
        try {
          ctx.close();
        } catch (NamingException ignored) {
          // nothing held
        }
      }
    }
  }

  /** An address literal from a record: no look-up happens for a literal. */
  private static InetAddress literal(String s) throws IOException {
    try {
      return InetAddress.getByName(s.strip());
    } catch (UnknownHostException e) {
      throw new IOException("the DNS answer holds '" + s + "', not an address", e);
    }
  }
}
