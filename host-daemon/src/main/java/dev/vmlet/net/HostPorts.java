package dev.vmlet.net;

import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.VmException;
import java.io.Closeable;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/**
 * Chooses and checks the host ports of user-mode forwards before QEMU starts, so that a taken
 * port is a clear error rather than QEMU's, and port 0 becomes a real free port that GetVm can
 * report. QEMU binds the port itself a moment later; another program could take it in between,
 * in which case QEMU refuses to start and says so.
 */
public final class HostPorts {
  private HostPorts() {}

  public static List<PortForward> resolve(List<PortForward> forwards) {
    List<PortForward> out = new ArrayList<>();
    List<Closeable> held = new ArrayList<>(); // held until all are chosen, so two 0s get two ports
    try {
      for (PortForward f : forwards) {
        try {
          InetSocketAddress at = new InetSocketAddress(InetAddress.getByName(f.hostAddress()), f.hostPort());
          int port;
          if (f.protocol().equals("udp")) {
            DatagramSocket s = new DatagramSocket(at);
            held.add(s);
            port = s.getLocalPort();
          } else {
            ServerSocket s = new ServerSocket();
            held.add(s);
            s.bind(at);
            port = s.getLocalPort();
          }
          out.add(f.withHostPort(port));
        } catch (IOException e) {
          throw new VmException(VmException.Kind.FAILED_PRECONDITION, "host port " + f.hostPort() + "/" + f.protocol()
              + " on " + f.hostAddress() + " cannot be used (" + e.getMessage() + "); choose another, or 0 for a free one");
        }
      }
    } finally {
      for (Closeable c : held) {
        try {
          c.close();
        } catch (IOException ignored) {
          // a probe socket
        }
      }
    }
    return out;
  }
}
