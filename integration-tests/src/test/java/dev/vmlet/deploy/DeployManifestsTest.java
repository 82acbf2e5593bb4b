package dev.vmlet.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The deploy/ manifests have the properties the design asks of a node deployment, read as files (fast,
 * and for the DaemonSet the only check: no Kubernetes runs here). The image and the Swarm stack also
 * run for real: SwarmStackIT, KvmDeviceIT.
 */
class DeployManifestsTest {
  static final Path DEPLOY = Path.of("..", "deploy");

  @SuppressWarnings("unchecked")
  static <T> T at(Object yaml, String... path) {
    Object o = yaml;
    for (String p : path) {
      o = o instanceof List<?> l ? l.get(Integer.parseInt(p)) : ((Map<String, Object>) o).get(p);
    }
    return (T) o;
  }

  @Test
  void theSwarmStack_runsAGlobalUnprivilegedServiceOnVmCapableNodes() throws Exception {
    Object stack = new Yaml().load(Files.readString(DEPLOY.resolve("swarm-stack.yml")));
    Object svc = at(stack, "services", "vmlet");
    assertThat((String) at(svc, "deploy", "mode")).isEqualTo("global");
    assertThat((List<String>) at(svc, "deploy", "placement", "constraints")).containsExactly("node.labels.vm-capable == true");
    // Swarm drops devices (moby/swarmkit#1244): none is asked for, so none is silently missing.
    assertThat((Object) at(svc, "devices")).isNull();
    assertThat((List<String>) at(svc, "cap_drop")).containsExactly("ALL");
    assertThat((Object) at(svc, "cap_add")).isNull();
    assertThat((Boolean) at(svc, "read_only")).isTrue();
    assertThat((Object) at(svc, "privileged")).isNull();
    assertThat((Map<String, Object>) at(svc, "deploy", "resources", "reservations")).containsKeys("cpus", "memory");
    assertThat((Map<String, Object>) at(svc, "deploy", "resources", "limits")).containsKeys("cpus", "memory");
    assertThat((List<Object>) at(svc, "volumes")).map(Object::toString)
        .anyMatch(v -> v.endsWith(":/var/lib/vmlet")).anyMatch(v -> v.endsWith(":/var/cache/vmlet:ro"));
    assertThat((List<Map<String, Object>>) at(svc, "secrets")).extracting(m -> m.get("target"))
        .containsExactlyInAnyOrder("ca.pem", "server.pem", "server.key");
  }

  @Test
  void theFleetFile_addsPeersThroughSwarmDns_thePeerCertificate_andTheNodesName() throws Exception {
    Object fleet = new Yaml().load(Files.readString(DEPLOY.resolve("swarm-fleet.yml")));
    Object svc = at(fleet, "services", "vmlet");
    List<String> command = at(svc, "command");
    // It replaces the stack file's command: the listener and its certificates must stay.
    assertThat(String.join(" ", command)).contains("--listen tcp://0.0.0.0:7443 --pki /run/secrets")
        .contains("--peers dns:tasks.vmlet:7443").contains("--peer-cert /run/secrets/peer.pem")
        .contains("--peer-key /run/secrets/peer.key").contains("--peer-ca /run/secrets/ca.pem");
    assertThat((String) at(svc, "hostname")).isEqualTo("{{.Node.Hostname}}");
    assertThat((List<Map<String, Object>>) at(svc, "secrets")).extracting(m -> m.get("target"))
        .containsExactlyInAnyOrder("peer.pem", "peer.key");
    assertThat((Object) at(svc, "deploy")).isNull(); // the stack file's placement and limits stay as they are
  }

  @Test
  void theDaemonSet_runsAsNonRoot_withoutPrivileges_onVmCapableNodes() throws Exception {
    Object ds = new Yaml().load(Files.readString(DEPLOY.resolve("k8s-daemonset.yaml")));
    assertThat((String) at(ds, "kind")).isEqualTo("DaemonSet");
    Object pod = at(ds, "spec", "template", "spec");
    assertThat((Map<String, String>) at(pod, "nodeSelector")).containsEntry("vm-capable", "true");
    assertThat((Boolean) at(pod, "securityContext", "runAsNonRoot")).isTrue();
    Object c = at(pod, "containers", "0");
    assertThat((Boolean) at(c, "securityContext", "privileged")).isFalse();
    assertThat((Boolean) at(c, "securityContext", "allowPrivilegeEscalation")).isFalse();
    assertThat((Boolean) at(c, "securityContext", "readOnlyRootFilesystem")).isTrue();
    assertThat((List<String>) at(c, "securityContext", "capabilities", "drop")).containsExactly("ALL");
    assertThat((Map<String, Object>) at(c, "resources", "requests")).containsKeys("cpu", "memory", "devices.kubevirt.io/kvm");
    assertThat((List<Map<String, Object>>) at(c, "volumeMounts")).extracting(m -> m.get("mountPath"))
        .contains("/var/lib/vmlet", "/var/cache/vmlet");
  }

  @Test
  void theSystemdUnit_keepsVmsOnRestart_andHasNoPrivileges() throws Exception {
    List<String> unit = Files.readAllLines(DEPLOY.resolve("vmlet.service"));
    assertThat(unit).contains("User=vmlet", "SupplementaryGroups=kvm", "KillMode=process", "NoNewPrivileges=yes",
        "CapabilityBoundingSet=", "DeviceAllow=/dev/kvm rw", "RuntimeDirectoryPreserve=yes");
    assertThat(unit).anyMatch(l -> l.startsWith("ExecStart=") && l.contains(" daemon "));
  }

  @Test
  void theImage_runsAsANonRootUser_withoutNewPrivileges_onABaseMadeHere() throws Exception {
    List<String> docker = Files.readAllLines(DEPLOY.resolve("Dockerfile"));
    assertThat(docker).contains("FROM ${BASE}");
    assertThat(docker).contains("USER 10001:10001");
    assertThat(String.join("\n", docker)).contains("ENTRYPOINT [\"/usr/bin/setpriv\", \"--no-new-privs\"").contains("\"daemon\"");
    assertThat(Files.readAllLines(DEPLOY.resolve("../scripts/image")))
        .anyMatch(l -> l.startsWith("PACKAGES=") && l.contains("qemu-system-x86") && l.contains("qemu-utils"));
  }
}
