package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.fs.FileTrees;
import dev.vmlet.image.MicroImageBuilder;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.RestartPolicy;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.security.NodePki;
import dev.vmlet.security.Role;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * deploy/swarm-stack.yml deployed as it is on a one-node swarm (./scripts/test makes one when the
 * Engine is in none), with the node image ./scripts/image builds, and checked against what Docker
 * reports of the running task: confinement, a micro VM booted inside under TCG and driven from
 * outside over mutual TLS with the certificates given as Swarm secrets, the memory limit refusing a
 * VM, the daemon's container replaced (its VMs back by their restart policy, disks intact), and the
 * placement constraint. Everything it made (stack, volumes, secrets, the node label) goes again; a
 * label that was there before is put back.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SwarmStackIT {
  static final Duration START = SwarmStack.START;
  static final String MARKER = "vmlet-disk-marker-" + UUID.randomUUID();

  private Path dir;
  private final long t0 = System.nanoTime();
  private SwarmStack stack;
  private String service;
  private String node;
  private DaemonClient client;

  @BeforeAll
  void deploy() throws Exception {
    Docker.assume(true);
    stack = new SwarmStack();
    service = stack.service;
    node = stack.node;
    dir = Files.createTempDirectory("vmlet-swarm-it");
    String image = Docker.nodeImage();
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    MicroImageBuilder.build(Path.of(System.getProperty("vmlet.agentJar")), cache.resolve("images/micro"),
        line -> System.out.println("[image] " + line));
    NodePki pki = new NodePki(dir.resolve("pki"));
    pki.init(List.of("127.0.0.1"));
    pki.issueClient("controller", Role.ADMIN, Duration.ofDays(1));
    stack.secrets(Map.of("ca", pki.caCert(), "server-cert", pki.serverCert(), "server-key", pki.serverKey()));
    stack.labelNode();
    int port = SwarmStack.freePort();
    stack.deploy(Map.of("VMLET_IMAGE", image, "VMLET_IMAGES_DIR", cache.toString(), "VMLET_PORT", Integer.toString(port)),
        "deploy/swarm-stack.yml");
    String container = runningContainer();
    System.out.println("stack " + stack.name + " deployed; task container " + container);
    client = new DaemonClient(new InetSocketAddress("127.0.0.1", port), pki.clientCert("controller"),
        pki.clientKey("controller"), pki.caCert());
    Poll.until("the daemon in the service to answer over mutual TLS on port " + port, START, () -> {
      try {
        client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance());
        return true;
      } catch (StatusRuntimeException e) {
        return false;
      }
    });
  }

  @AfterAll
  void remove() throws Exception {
    if (client != null) {
      client.close();
    }
    try {
      if (stack != null) {
        stack.close();
      }
    } finally {
      if (dir != null) {
        FileTrees.deleteTree(dir); // also when the stack's removal failed
      }
    }
    System.out.printf("SwarmStackIT: %.0f s in all%n", (System.nanoTime() - t0) / 1e9);
  }

  /** The one running task's container, once Swarm runs it. */
  private String runningContainer() throws Exception {
    return Poll.forValue("a running task of " + service, START, () -> {
      List<String> ids = stack.runningContainers();
      return ids.size() == 1 ? ids.get(0) : null;
    });
  }

  private static Vm create(DaemonClient c, String name, RestartPolicy restart) {
    VmSpec spec = VmSpec.newBuilder().setName(name).setImage("micro").setMemoryMib(256).setRestart(restart)
        .addDisks(DiskSpec.newBuilder().setName("data").setSizeMib(16)).build();
    return c.vms().withDeadlineAfter(5, TimeUnit.MINUTES).createVm(CreateVmRequest.newBuilder().setSpec(spec).setStart(true).build());
  }

  private Vm get(String name) {
    return client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
  }

  @Test
  @Order(1)
  void theTask_runsConfinedOnTheLabelledNode() throws Exception {
    String container = runningContainer();
    JsonObject host = Docker.inspect(container, ".HostConfig").getAsJsonObject();
    JsonObject spec = com.google.gson.JsonParser.parseString(
        Docker.out("service", "inspect", "--format", "{{json .Spec.TaskTemplate}}", service)).getAsJsonObject();
    String taskNode = Docker.out("service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}", service);
    long pid = Docker.inspect(container, ".State.Pid").getAsLong();
    System.out.println("docker inspect of the task's container " + container + ":");
    System.out.println("  placement: " + spec.getAsJsonObject("Placement").get("Constraints") + ", on node " + taskNode);
    System.out.println("  Privileged=" + host.get("Privileged") + " CapDrop=" + host.get("CapDrop") + " CapAdd=" + host.get("CapAdd")
        + " SecurityOpt=" + host.get("SecurityOpt") + " ReadonlyRootfs=" + host.get("ReadonlyRootfs"));
    System.out.println("  Memory=" + host.get("Memory") + " MemoryReservation=" + host.get("MemoryReservation")
        + " NanoCpus=" + host.get("NanoCpus") + "; service Resources=" + spec.get("Resources"));
    System.out.println("  Mounts=" + host.get("Mounts"));
    System.out.println("  /proc/" + pid + "/status: " + Docker.privileges(pid));

    assertThat(spec.getAsJsonObject("Placement").get("Constraints").toString()).contains("node.labels.vm-capable == true");
    assertThat(Docker.out("node", "inspect", "--format", "{{.Description.Hostname}}", node)).isEqualTo(taskNode);
    assertThat(host.get("Privileged").getAsBoolean()).isFalse();
    assertThat(host.get("CapDrop").toString()).isEqualTo("[\"ALL\"]");
    assertThat(host.get("CapAdd") == null || host.get("CapAdd").isJsonNull() || host.getAsJsonArray("CapAdd").isEmpty()).isTrue();
    assertThat(host.get("ReadonlyRootfs").getAsBoolean()).isTrue();
    assertThat(host.get("Memory").getAsLong()).isEqualTo(2L << 30);
    assertThat(host.get("NanoCpus").getAsLong()).isEqualTo(2_000_000_000L);
    JsonObject reservations = spec.getAsJsonObject("Resources").getAsJsonObject("Reservations");
    assertThat(reservations.get("NanoCPUs").getAsLong()).isEqualTo(1_000_000_000L);
    assertThat(reservations.get("MemoryBytes").getAsLong()).isEqualTo(1L << 30);
    // Writable: the state volume and two tmpfs (sockets, temporary files); the image cache read-only.
    List<String> mounts = new ArrayList<>();
    for (JsonElement m : host.getAsJsonArray("Mounts")) {
      JsonObject o = m.getAsJsonObject();
      mounts.add(o.get("Type").getAsString() + " " + o.get("Target").getAsString()
          + (o.has("ReadOnly") && o.get("ReadOnly").getAsBoolean() ? " ro" : " rw"));
    }
    assertThat(mounts).containsExactlyInAnyOrder("volume /var/lib/vmlet rw", "volume /var/cache/vmlet ro",
        "tmpfs /run/vmlet rw", "tmpfs /tmp rw");
    // no-new-privileges and no capability, on the daemon (the image's entrypoint sets the flag).
    assertThat(Docker.privileges(pid)).contains("NoNewPrivs: 1").contains("CapEff: 0000000000000000");
  }

  @Test
  @Order(2)
  void aControllerOutsideTheSwarm_bootsAVmInTheService_runsACommandAndCopiesAFile() throws Exception {
    Vm keep = create(client, "keep", RestartPolicy.RESTART_POLICY_ON_FAILURE);
    assertThat(keep.getAccelReason()).contains("does not exist in this container").contains("moby/swarmkit#1244")
        .contains("docker run --device /dev/kvm");
    create(client, "gone", RestartPolicy.RESTART_POLICY_NO);
    Guests.waitReady(client, "keep");

    assertThat(Guests.sh(client, "keep", "printf '" + MARKER + "' | dd of=/dev/vda conv=fsync 2>/dev/null && hostname").strip())
        .isEqualTo("keep");
    byte[] data = ("a file from outside the swarm " + UUID.randomUUID() + "\n").getBytes(StandardCharsets.UTF_8);
    assertThat(Guests.push(client, "keep", "/root/pushed.txt", data, null, false).getSha256()).isEqualTo(Guests.sha(data));
    assertThat(Guests.pull(client, "keep", "/root/pushed.txt").data()).isEqualTo(data);
    // Its QEMUs are in the container's cgroup, with no privileges either.
    String id = Docker.inspect(runningContainer(), ".Id").getAsString();
    List<String> qemus = new ArrayList<>();
    for (long p : Docker.processesIn(id)) {
      String status = Docker.privileges(p);
      if (status.contains("Name: vmlet-")) { // QEMU names its process after the VM (-name ...,process=vmlet-NAME)
        qemus.add(p + ": " + status);
      }
    }
    System.out.println("QEMU processes in the container: " + qemus);
    assertThat(qemus).hasSize(2).anyMatch(q -> q.contains("vmlet-keep")).anyMatch(q -> q.contains("vmlet-gone")).allSatisfy(s -> assertThat(s).contains("NoNewPrivs: 1").contains("CapEff: 0000000000000000"));
  }

  @Test
  @Order(3)
  void aVmOverTheContainersMemoryLimit_isRefused_namingTheLimit() {
    VmSpec spec = VmSpec.newBuilder().setName("huge").setImage("micro").setMemoryMib(1900).build();
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(1, TimeUnit.MINUTES)
        .createVm(CreateVmRequest.newBuilder().setSpec(spec).setStart(true).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          System.out.println("refused: " + e.getStatus().getDescription());
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("VM 'huge' needs 1900 MiB").contains("allows 2048 MiB")
              .containsPattern("memory(\\.limit_in_bytes|\\.max)").contains("2 running VM(s)");
        });
    assertThat(client.vms().listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).extracting(v -> v.getSpec().getName())
        .containsExactlyInAnyOrder("keep", "gone");
  }

  @Test
  @Order(4)
  void aForcedServiceUpdate_replacesTheDaemonsContainer_andTheRestartPolicyBringsTheVmBack() throws Exception {
    String before = runningContainer();
    long t = System.nanoTime();
    Docker.out("service", "update", "--force", "--detach", service);
    String after = Poll.forValue("a new task container", START, () -> {
      List<String> ids = stack.runningContainers();
      return ids.size() == 1 && !ids.get(0).equals(before) ? ids.get(0) : null;
    });
    Poll.until("VM keep to run again in the new container", START, () -> {
      try {
        return get("keep").getState() == VmState.RUNNING;
      } catch (StatusRuntimeException e) {
        return false; // the new daemon is not serving yet
      }
    });
    Guests.waitReady(client, "keep");
    System.out.printf("container %s replaced by %s; VM keep running with its agent again %.1f s after the update%n",
        before, after, (System.nanoTime() - t) / 1e9);

    assertThat(Guests.sh(client, "keep", "head -c " + MARKER.length() + " /dev/vda")).isEqualTo(MARKER);
    Vm gone = get("gone");
    System.out.println("VM gone (restart no): " + gone.getState() + ": " + gone.getLastError());
    assertThat(gone.getState()).isEqualTo(VmState.CRASHED);
    assertThat(gone.getLastError()).contains("exited while the daemon was down");
  }

  @Test
  @Order(5)
  void withoutTheNodeLabel_noTaskRuns_andSwarmSaysWhy() throws Exception {
    Docker.out("node", "update", "--label-rm", SwarmStack.LABEL, node);
    String why = Poll.forValue("the task on the unlabelled node to be rejected", START, () -> {
      String ps = Docker.out("service", "ps", "--no-trunc", "--format", "{{.DesiredState}} {{.CurrentState}} | {{.Error}}", service);
      return ps.lines().filter(l -> l.contains("no longer meets constraints")).findFirst().orElse(null);
    });
    Poll.until("no container of the service to run", START,
        () -> Docker.out("ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + service).isEmpty());
    String replicas = Docker.out("service", "ls", "--filter", "name=" + service, "--format", "{{.Replicas}}");
    System.out.println("label removed: " + why + "; replicas " + replicas);
    assertThat(replicas).isEqualTo("0/0");
  }
}
