package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.cli.Main;
import dev.vmlet.client.Nodes;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.daemon.Daemon;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.fleet.PeerSource;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.FleetNode;
import dev.vmlet.proto.v1.ListFleetVmsRequest;
import dev.vmlet.proto.v1.ListNodesRequest;
import dev.vmlet.proto.v1.NodeVm;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.security.NodePki;
import dev.vmlet.security.Role;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fleet found through a real DNS server, without Swarm: dnsmasq (its own configuration, on
 * 127.0.0.1 at a free port, no upstream, authoritative for {@code vmlet} so an empty name is
 * NXDOMAIN as in Swarm rather than REFUSED) answers {@code tasks.vmlet} with the 127.0.0.x addresses
 * in a hosts file; real daemons listen there with mutual TLS, each with its own node name and the
 * fleet's certificates (one CA, a server certificate naming tasks.vmlet, a peer client
 * certificate). Records change by rewriting the file and sending dnsmasq SIGHUP, as a Swarm task
 * coming or going changes {@code tasks.SERVICE}.
 *
 * <p>{@code SwarmFleetIT} runs the same checks on a Swarm stack (two daemon tasks on an overlay
 * network, Docker's embedded DNS).
 */
class FleetDiscoveryIT {
  @TempDir static Path tmp;
  static Process dnsmasq;
  static Path hosts;
  static int port;
  static PeerSource source;
  static TestDaemon a;
  static TestDaemon b;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(Stream.of("/usr/sbin/dnsmasq", "/usr/bin/dnsmasq").anyMatch(p -> Files.isExecutable(Path.of(p))),
        "dnsmasq is not installed (Debian package dnsmasq-base; ./scripts/test installs it)");
    NodePki pki = new NodePki(tmp.resolve("fleet-pki"));
    pki.init(List.of("tasks.vmlet"));
    pki.issueClient("peer", Role.OPERATOR, Duration.ofDays(1));
    hosts = tmp.resolve("hosts");
    Files.writeString(hosts, "");
    int dnsPort;
    try (DatagramSocket probe = new DatagramSocket(0, InetAddress.getByName("127.0.0.1"))) {
      dnsPort = probe.getLocalPort();
    }
    String user = System.getProperty("user.name");
    dnsmasq = new ProcessBuilder(Files.isExecutable(Path.of("/usr/sbin/dnsmasq")) ? "/usr/sbin/dnsmasq" : "/usr/bin/dnsmasq",
        "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--addn-hosts=" + hosts, "--local=/vmlet/",
        "--listen-address=127.0.0.1", "--bind-interfaces", "--port=" + dnsPort, "--local-ttl=0", "--user=" + user,
        "--pid-file=" + tmp.resolve("dnsmasq.pid"), "--log-facility=" + tmp.resolve("dnsmasq.log"))
        .redirectErrorStream(true).redirectOutput(tmp.resolve("dnsmasq.out").toFile()).start();
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = probe.getLocalPort();
    }
    source = PeerSource.parse("dns://127.0.0.1:" + dnsPort + "/tasks.vmlet:" + port);
    Poll.until("dnsmasq answers on 127.0.0.1:" + dnsPort, Duration.ofSeconds(30), () -> {
      assertThat(dnsmasq.isAlive()).as("dnsmasq is running: " + Files.readString(tmp.resolve("dnsmasq.out"))).isTrue();
      try {
        return source.resolve().isEmpty();
      } catch (java.io.IOException e) {
        return false;
      }
    });
    a = daemon("node-a", "127.0.0.1");
    b = daemon("node-b", "127.0.0.2");
  }

  /** A daemon named {@code name} on {@code address}:port with the fleet's certificates, finding its peers through dnsmasq. */
  static TestDaemon daemon(String name, String address) throws Exception {
    Path dir = tmp.resolve(name);
    copyTree(tmp.resolve("fleet-pki"), dir.resolve("state/pki"));
    NodePki pki = new NodePki(dir.resolve("state/pki"));
    Fleet.Discovery discovery = new Fleet.Discovery(source, new Fleet.Credentials(pki.clientCert("peer"), pki.clientKey("peer"),
        pki.caCert()), Duration.ofSeconds(1));
    return TestDaemon.withOptions(dir, new Daemon.Options(null, List.of(), Nodes.NONE, Path.of("/sys"), null,
        new InetSocketAddress(address, port), List.of()).withFleet(name, discovery));
  }

  static void copyTree(Path from, Path to) throws Exception {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      for (TestDaemon d : new TestDaemon[] {a, b}) {
        if (d != null) {
          d.close();
        }
      }
    } finally {
      if (dnsmasq != null) {
        dnsmasq.destroy();
        if (!dnsmasq.waitFor(10, TimeUnit.SECONDS)) {
          dnsmasq.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    }
  }

  /** Makes tasks.vmlet answer with these addresses: the file, then SIGHUP (dnsmasq rereads its hosts files). */
  static void records(String... addresses) throws Exception {
    StringBuilder sb = new StringBuilder();
    for (String ad : addresses) {
      sb.append(ad).append(" tasks.vmlet\n");
    }
    Files.writeString(hosts, sb.toString());
    new ProcessBuilder("kill", "-HUP", Long.toString(dnsmasq.pid())).inheritIO().start().waitFor(10, TimeUnit.SECONDS);
    Poll.until("dnsmasq answers " + List.of(addresses), Duration.ofSeconds(30), () -> {
      List<String> got = new ArrayList<>();
      source.resolve().forEach(ad -> got.add(ad.getHostAddress()));
      return got.size() == addresses.length && got.containsAll(List.of(addresses));
    });
  }

  static List<FleetNode> nodes(TestDaemon d) {
    return d.client.node().withDeadlineAfter(60, TimeUnit.SECONDS).listNodes(ListNodesRequest.getDefaultInstance()).getNodesList();
  }

  /** This node, then its peers by name (DNS answers in any order). */
  static String names(List<FleetNode> nodes) {
    List<String> peers = nodes.stream().skip(1).map(n -> n.getName() + (n.getReachable() ? "" : "(unreachable)")).sorted().toList();
    return nodes.get(0).getName() + (peers.isEmpty() ? "" : "," + String.join(",", peers));
  }

  static FleetNode node(TestDaemon d, String name) {
    return nodes(d).stream().filter(n -> n.getName().equals(name)).findFirst().orElseThrow();
  }

  /** What {@code vmlet ARGS} prints on stdout, run against the daemon's socket. */
  static String cli(TestDaemon d, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrintStream was = System.out;
    String[] all = Stream.concat(Stream.of(args), Stream.of("--socket", d.paths.socket().toString())).toArray(String[]::new);
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      assertThat(Main.run(all)).as("vmlet " + String.join(" ", args)).isZero();
    } finally {
      System.setOut(was);
    }
    String s = out.toString(StandardCharsets.UTF_8);
    System.out.print(s);
    return s;
  }

  @Test
  void peers_comeAndGoWithTheDnsRecords_knownByTheNameTheyReport() throws Exception {
    TestDaemon c = daemon("node-c", "127.0.0.3");
    boolean cRunning = true;
    try {
      records("127.0.0.1", "127.0.0.2");
      // node-a's own address is in the answer: skipped, not listed as a peer.
      Poll.until("node-a sees node-b and not itself twice", Duration.ofSeconds(60),
          () -> names(nodes(a)).equals("node-a,node-b"));
      assertThat(node(a, "node-b").getAddress()).isEqualTo("tcp://127.0.0.2:" + port);
      assertThat(node(a, "node-b").getSummary().getCpus()).isPositive();

      records("127.0.0.1", "127.0.0.2", "127.0.0.3");
      Poll.until("node-c appears", Duration.ofSeconds(60), () -> names(nodes(a)).equals("node-a,node-b,node-c"));
      String table = cli(a, "nodes");
      assertThat(table).contains("node-c").contains("tcp://127.0.0.3:" + port).contains("node-b").contains("self");
      // The other daemons see the same fleet from their side.
      Poll.until("node-c sees the others", Duration.ofSeconds(60), () -> names(nodes(c)).equals("node-c,node-a,node-b"));

      records("127.0.0.1", "127.0.0.3");
      Poll.until("node-b disappears", Duration.ofSeconds(60), () -> names(nodes(a)).equals("node-a,node-c"));
      assertThat(cli(a, "nodes")).doesNotContain("node-b");

      c.close(); // still in DNS, but nobody answers there
      cRunning = false;
      Poll.until("node-c is shown unreachable, with why", Duration.ofSeconds(60),
          () -> names(nodes(a)).equals("node-a,node-c(unreachable)"));
      FleetNode down = node(a, "node-c");
      assertThat(down.getError()).contains("UNAVAILABLE");
      assertThat(cli(a, "nodes")).contains("Unreachable:").contains("node-c at tcp://127.0.0.3:" + port + ": UNAVAILABLE");
      assertThatThrownBy(() -> a.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).runCommandLine(RunCommandLineRequest.newBuilder()
          .setLine("@node-c/x true").build()).hasNext()).hasMessageContaining("no node named 'node-c'")
          .hasMessageContaining("cannot be reached");
    } finally {
      if (cRunning) {
        c.close();
      }
    }
  }

  @Test
  void aLineAcrossTwoDiscoveredNodes_pipesAVmOnOneIntoAVmOnTheOther() throws Exception {
    records("127.0.0.1", "127.0.0.2");
    Poll.until("node-a sees node-b", Duration.ofSeconds(60), () -> names(nodes(a)).equals("node-a,node-b"));
    for (TestDaemon[] dv : new TestDaemon[][] {{a}, {b}}) {
      TestDaemon d = dv[0];
      String vm = d == a ? "vm1" : "vm2";
      d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName(vm).setMemoryMib(256)).setStart(true).build());
    }
    Guests.waitReady(a.client, "vm1");
    Guests.waitReady(b.client, "vm2");

    assertThat(run(a, "@node-a/vm1 hostname | @node-b/vm2 tr a-z A-Z")).isEqualTo("VM1\n0");
    // From node-b's side, and with a stage of this node named without its node.
    assertThat(run(b, "@node-a/vm1 echo hello | @vm2 sed s/hello/bye/")).isEqualTo("bye\n0");
    // This node named by its own name: run here.
    assertThat(run(a, "@node-a/vm1 hostname | @vm1 tr a-z A-Z")).isEqualTo("VM1\n0");
    // A VM on another node alone: forwarded whole to that node's daemon.
    assertThat(run(a, "@node-b/vm2 hostname")).isEqualTo("vm2\n0");
    // The exit code of the last stage counts.
    assertThat(run(a, "@node-a/vm1 echo x | @node-b/vm2 grep y")).isEqualTo("1");

    // Latency of a two-stage line, across nodes next to one node, in the same run.
    long[] across = new long[5];
    long[] here = new long[5];
    for (int i = 0; i < 5; i++) {
      long t0 = System.nanoTime();
      assertThat(run(a, "@node-a/vm1 true | @node-b/vm2 true")).isEqualTo("0");
      across[i] = (System.nanoTime() - t0) / 1_000_000;
      t0 = System.nanoTime();
      assertThat(run(a, "@vm1 true | @vm1 true")).isEqualTo("0");
      here[i] = (System.nanoTime() - t0) / 1_000_000;
    }
    java.util.Arrays.sort(across);
    java.util.Arrays.sort(here);
    System.out.printf("line '@X true | @Y true', median of 5 (min-max): across two nodes %d ms (%d-%d), on one node %d ms (%d-%d);"
        + " load average %s%n", across[2], across[0], across[4], here[2], here[0], here[4],
        Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);

    String list = cli(a, "list", "--all-nodes");
    assertThat(list).startsWith("NODE").containsPattern("node-a +vm1 +RUNNING").containsPattern("node-b +vm2 +RUNNING");
    List<NodeVm> vms = a.client.node().withDeadlineAfter(60, TimeUnit.SECONDS).listFleetVms(ListFleetVmsRequest.getDefaultInstance())
        .getVmsList();
    assertThat(vms).extracting(v -> v.getNode() + "/" + v.getVm().getSpec().getName()).containsExactly("node-a/vm1", "node-b/vm2");
    assertThatThrownBy(() -> run(a, "@node-a/vm1 ls | @node-b/vm2 cat > @node-b/vm2 /tmp/x"))
        .hasMessageContaining("a redirect in a line across nodes");
  }

  /** The line's stdout, then its exit code. */
  static String run(TestDaemon d, String line) {
    StringBuilder out = new StringBuilder();
    var it = d.client.vms().withDeadlineAfter(180, TimeUnit.SECONDS).runCommandLine(RunCommandLineRequest.newBuilder()
        .setLine(line).build());
    int code = -1;
    while (it.hasNext()) {
      var r = it.next();
      out.append(r.getStdout().toStringUtf8());
      code = r.hasResult() ? r.getResult().getExitCode() : code;
    }
    return out + String.valueOf(code);
  }
}
