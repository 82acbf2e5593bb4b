package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.fs.FileTrees;
import dev.vmlet.image.MicroImageBuilder;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.FleetNode;
import dev.vmlet.proto.v1.ListNodesRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.security.NodePki;
import dev.vmlet.security.Role;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The fleet on a real Swarm stack: deploy/swarm-stack.yml with deploy/swarm-fleet.yml (the fleet:
 * {@code --peers dns:tasks.vmlet:7443}, the {@code peer} client certificate as a secret) and, for
 * two tasks on the test's one-node swarm, swarm-fleet-it.yml (replicated, two replicas named
 * {@code vmlet-SLOT}, each its own state volume). The two daemons find each other through
 * Swarm's DNS on the overlay network, a line {@code @vmlet-1/vm1 hostname | @vmlet-2/vm2 tr a-z
 * A-Z} runs across them with two micro VMs (TCG), and the task the service is scaled down by
 * leaves the other's {@code vmlet nodes}. The test reaches each daemon on its task's address on
 * docker_gwbridge, checking the certificate's SAN {@code tasks.vmlet}. Everything it made goes
 * again ({@link SwarmStack#close}), whether it passed or not.
 */
class SwarmFleetIT {
  static final String SAN = "tasks.vmlet";

  @Test
  void twoTasks_findEachOtherByDns_runALineAcross_andARemovedTaskDisappears() throws Exception {
    Docker.assume(true);
    long t0 = System.nanoTime();
    String image = Docker.nodeImage();
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    MicroImageBuilder.build(Path.of(System.getProperty("vmlet.agentJar")), cache.resolve("images/micro"),
        line -> System.out.println("[image] " + line));
    Path dir = Files.createTempDirectory("vmlet-swarm-fleet-it");
    Map<String, DaemonClient> clients = new LinkedHashMap<>();
    try (SwarmStack stack = new SwarmStack()) {
      NodePki pki = new NodePki(dir.resolve("pki"));
      pki.init(List.of(SAN));
      pki.issueClient("peer", Role.OPERATOR, Duration.ofDays(1));
      pki.issueClient("controller", Role.ADMIN, Duration.ofDays(1));
      stack.secrets(Map.of("ca", pki.caCert(), "server-cert", pki.serverCert(), "server-key", pki.serverKey(),
          "peer-cert", pki.clientCert("peer"), "peer-key", pki.clientKey("peer")));
      stack.labelNode();
      stack.deploy(Map.of("VMLET_IMAGE", image, "VMLET_IMAGES_DIR", cache.toString(),
          "VMLET_PORT", Integer.toString(SwarmStack.freePort())),
          "deploy/swarm-stack.yml", "deploy/swarm-fleet.yml", "integration-tests/src/test/resources/swarm-fleet-it.yml");
      Map<String, String> tasks = Poll.forValue("two running tasks of " + stack.service, SwarmStack.START, () -> {
        Map<String, String> t = tasks(stack);
        return t.size() == 2 ? t : null;
      });
      System.out.printf("stack %s: tasks %s running %.0f s after the start%n", stack.name, tasks, (System.nanoTime() - t0) / 1e9);
      for (var t : tasks.entrySet()) {
        DaemonClient c = new DaemonClient(new InetSocketAddress(t.getValue(), 7443), pki.clientCert("controller"),
            pki.clientKey("controller"), pki.caCert(), SAN);
        clients.put(t.getKey(), c);
        Poll.until("the daemon of " + t.getKey() + " to answer over mutual TLS at " + t.getValue(), SwarmStack.START, () -> {
          try {
            c.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance());
            return true;
          } catch (StatusRuntimeException e) {
            return false;
          }
        });
      }
      List<String> nodes = new ArrayList<>(tasks.keySet());
      String a = nodes.get(0);
      String b = nodes.get(1);
      DaemonClient ca = clients.get(a);
      DaemonClient cb = clients.get(b);
      try {
        Poll.until(a + " to see " + b + " through " + SAN, Duration.ofSeconds(120), () -> names(ca).contains(b));
        Poll.until(b + " to see " + a + " through " + SAN, Duration.ofSeconds(120), () -> names(cb).contains(a));
      } catch (AssertionError e) {
        for (var c : clients.entrySet()) {
          System.out.println(c.getKey() + " lists " + c.getValue().node().listNodes(ListNodesRequest.getDefaultInstance()).getNodesList());
        }
        System.out.println("docker service logs:\n" + Docker.run(Map.of(), Docker.CALL, "service", "logs", "--raw", stack.service));
        throw e;
      }
      System.out.printf("%s and %s see each other %.0f s after the start; %s lists %s%n", a, b, (System.nanoTime() - t0) / 1e9,
          a, ca.node().listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
              .map(n -> n.getName() + "@" + n.getAddress() + (n.getReachable() ? "" : " (unreachable)")).toList());

      // Both VMs boot at once (TCG), then both agents are waited for.
      create(ca, "vm1");
      create(cb, "vm2");
      Guests.waitReady(ca, "vm1");
      Guests.waitReady(cb, "vm2");
      System.out.printf("vm1 on %s and vm2 on %s ready %.0f s after the start%n", a, b, (System.nanoTime() - t0) / 1e9);
      StringBuilder out = new StringBuilder();
      String line = "@" + a + "/vm1 hostname | @" + b + "/vm2 tr a-z A-Z";
      ca.vms().withDeadlineAfter(180, TimeUnit.SECONDS).runCommandLine(RunCommandLineRequest.newBuilder().setLine(line).build())
          .forEachRemaining(r -> out.append(r.getStdout().toStringUtf8()));
      System.out.println(line + " -> " + out.toString().strip());
      assertThat(out.toString()).isEqualTo("VM1\n");

      // Swarm picks the task it removes; the one left must drop it from its nodes.
      Docker.out("service", "scale", "--detach", stack.service + "=1");
      Map<String, String> left = Poll.forValue("one task of " + stack.service + " left", SwarmStack.START, () -> {
        Map<String, String> t = tasks(stack);
        return t.size() == 1 ? t : null;
      });
      String kept = left.keySet().iterator().next();
      String gone = kept.equals(a) ? b : a;
      assertThat(kept).isIn(a, b);
      DaemonClient ck = clients.get(kept);
      Poll.until(gone + " to leave " + kept + "'s nodes", Duration.ofSeconds(120), () -> !names(ck).contains(gone));
      List<FleetNode> after = ck.node().listNodes(ListNodesRequest.getDefaultInstance()).getNodesList();
      System.out.printf("task %s removed; %s lists %s, %.0f s after the start%n", gone, kept,
          after.stream().map(FleetNode::getName).toList(), (System.nanoTime() - t0) / 1e9);
      assertThat(after).extracting(FleetNode::getName).containsExactly(kept);
    } finally {
      for (DaemonClient c : clients.values()) {
        c.close();
      }
      FileTrees.deleteTree(dir);
      System.out.printf("SwarmFleetIT: %.0f s in all%n", (System.nanoTime() - t0) / 1e9);
    }
  }

  /** The running tasks: each container's host name (its node name) and its address on docker_gwbridge. */
  private static Map<String, String> tasks(SwarmStack stack) {
    JsonObject bridge = Docker.inspect("docker_gwbridge", ".Containers").getAsJsonObject();
    Map<String, String> out = new LinkedHashMap<>();
    for (String id : stack.runningContainers()) {
      String full = Docker.inspect(id, ".Id").getAsString();
      if (!bridge.has(full)) {
        return Map.of(); // not attached yet
      }
      String address = bridge.getAsJsonObject(full).get("IPv4Address").getAsString().replaceAll("/.*", "");
      out.put(Docker.inspect(id, ".Config.Hostname").getAsString(), address);
    }
    return new java.util.TreeMap<>(out);
  }

  private static void create(DaemonClient c, String name) {
    c.vms().withDeadlineAfter(5, TimeUnit.MINUTES).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setImage("micro").setMemoryMib(256)).setStart(true).build());
  }

  /** The reachable nodes a daemon lists (itself and its peers). */
  private static List<String> names(DaemonClient c) {
    return c.node().withDeadlineAfter(60, TimeUnit.SECONDS).listNodes(ListNodesRequest.getDefaultInstance()).getNodesList().stream()
        .filter(FleetNode::getReachable).map(FleetNode::getName).toList();
  }
}
