package dev.vmlet.spec;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A user-mode network forward from a host port to a guest port, validated on construction.
 *
 * @param protocol "tcp" or "udp"
 * @param hostAddress an IP address literal on the host; 127.0.0.1 unless given
 * @param hostPort 0 (pick a free one at start) to 65535
 * @param guestPort 1 to 65535
 */
public record PortForward(String protocol, String hostAddress, int hostPort, int guestPort) {
  private static final Pattern SPEC = Pattern.compile("(?:(\\[[0-9a-fA-F:]+\\]|[0-9.]+):)?(\\d+):(\\d+)(?:/(tcp|udp))?");

  public PortForward {
    if (!protocol.equals("tcp") && !protocol.equals("udp")) {
      throw VmException.invalid("forwards.protocol must be tcp or udp, got '" + protocol + "'");
    }
    if (hostPort < 0 || hostPort > 65535) {
      throw VmException.invalid("forwards.host_port must be between 0 and 65535, got " + hostPort);
    }
    if (guestPort < 1 || guestPort > 65535) {
      throw VmException.invalid("forwards.guest_port must be between 1 and 65535, got " + guestPort);
    }
    if (!hostAddress.matches("[0-9.]+|[0-9a-fA-F:]+")) {
      throw VmException.invalid("forwards.host_address must be an IP address, got '" + hostAddress + "'");
    }
    try {
      InetAddress.getByName(hostAddress); // a literal: no name lookup happens
    } catch (UnknownHostException e) {
      throw VmException.invalid("forwards.host_address must be an IP address, got '" + hostAddress + "'");
    }
  }

  public PortForward withHostPort(int port) {
    return new PortForward(protocol, hostAddress, port, guestPort);
  }

  /** Parses {@code [ADDRESS:]HOST:GUEST[/tcp|/udp]}, as the CLI takes it. */
  public static PortForward parse(String spec) {
    Matcher m = SPEC.matcher(spec);
    if (!m.matches()) {
      throw VmException.invalid("forward '" + spec + "' is not [ADDRESS:]HOST_PORT:GUEST_PORT[/tcp|/udp], e.g. 8080:80");
    }
    String addr = m.group(1) == null ? "127.0.0.1" : m.group(1).replaceAll("[\\[\\]]", "");
    try {
      return new PortForward(m.group(4) == null ? "tcp" : m.group(4), addr, Integer.parseInt(m.group(2)),
          Integer.parseInt(m.group(3)));
    } catch (NumberFormatException e) {
      throw VmException.invalid("forward '" + spec + "' has a port out of range");
    }
  }

  @Override
  public String toString() {
    return (hostAddress.contains(":") ? "[" + hostAddress + "]" : hostAddress) + ":" + hostPort + "->" + guestPort + "/" + protocol;
  }
}
