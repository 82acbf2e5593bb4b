package dev.vmlet.fleet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class PeerSourceTest {
  @Test
  void parse_withoutServer_usesTheHostsResolvers() {
    PeerSource s = PeerSource.parse("dns:tasks.vmlet:7443");
    assertNull(s.server());
    assertEquals("tasks.vmlet", s.name());
    assertEquals(7443, s.port());
    assertEquals("dns:tasks.vmlet:7443", s.toString());
  }

  @Test
  void parse_withServer_takesItsPortOr53() {
    PeerSource s = PeerSource.parse("dns://127.0.0.1:5353/tasks.vmlet:7443");
    assertEquals("127.0.0.1", s.server());
    assertEquals(5353, s.serverPort());
    assertEquals(53, PeerSource.parse("dns://10.0.0.2/vmlet.default.svc.cluster.local:7443").serverPort());
    assertEquals("::1", PeerSource.parse("dns://[::1]:53/tasks.vmlet:7443").server());
    assertEquals("dns://[::1]:53/tasks.vmlet:7443", PeerSource.parse("dns://[::1]/tasks.vmlet:7443").toString());
  }

  @Test
  void parse_badInput_saysTheSyntax() {
    for (String bad : new String[] {"tasks.vmlet:7443", "dns:tasks.vmlet", "dns:tasks.vmlet:0", "dns:tasks.vmlet:70000",
        "dns://1.2.3.4:99999/x:1", "dns:", "tcp://x:1"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeerSource.parse(bad), bad);
      assertTrue(e.getMessage().contains("dns:NAME:PORT"), e.getMessage());
    }
  }

  @Test
  void resolve_aServerThatDoesNotAnswer_failsWithinTheTimeOutsNamingIt() throws Exception {
    // Nothing listens on this UDP port: the JDK's DNS client gives up after its retries (1 s + 2 s).
    java.net.DatagramSocket quiet = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress());
    try {
      PeerSource s = PeerSource.parse("dns://127.0.0.1:" + quiet.getLocalPort() + "/tasks.vmlet:7443");
      long t0 = System.nanoTime();
      java.io.IOException e = assertThrows(java.io.IOException.class, s::resolve);
      assertTrue(e.getMessage().contains("127.0.0.1:" + quiet.getLocalPort()), e.getMessage());
      assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "bounded");
    } finally {
      quiet.close();
    }
  }
}
