package dev.vmlet.it;

import dev.vmlet.common.testing.Poll;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A test's Swarm stack of deploy/ files on the one-node swarm: its secrets, the node label it sets,
 * the stack itself. {@link #close} takes away all of it (containers, networks, volumes, secrets)
 * and puts a label that was there before back, whatever state the test left it in.
 */
final class SwarmStack implements AutoCloseable {
  static final Duration START = Duration.ofMinutes(4);
  static final String LABEL = "vm-capable";

  final String name = "vmlet-it-" + UUID.randomUUID().toString().substring(0, 8);
  final String service = name + "_vmlet";
  final String node = Docker.out("info", "--format", "{{.Swarm.NodeID}}");
  private final List<String> secrets = new ArrayList<>();
  private String labelBefore;
  private boolean deployed;

  /** Creates the secrets {@code NAME-KEY} (VMLET_SECRETS=NAME in the stack files) from these files. */
  void secrets(Map<String, Path> files) {
    for (var s : files.entrySet()) {
      Docker.out("secret", "create", name + "-" + s.getKey(), s.getValue().toString());
      secrets.add(name + "-" + s.getKey());
    }
  }

  /** Labels the node vm-capable=true (remembering a label it had). */
  void labelNode() {
    labelBefore = label();
    Docker.out("node", "update", "--label-add", LABEL + "=true", node);
  }

  /** docker stack deploy of these files (relative to the repository root) with these variables and VMLET_SECRETS. */
  void deploy(Map<String, String> env, String... files) {
    Map<String, String> all = new LinkedHashMap<>(env);
    all.put("VMLET_SECRETS", name);
    List<String> args = new ArrayList<>(List.of("stack", "deploy"));
    for (String f : files) {
      args.addAll(List.of("-c", f));
    }
    args.add(name);
    deployed = true;
    Docker.out(all, args.toArray(String[]::new));
  }

  /** The ids of the service's running task containers. */
  List<String> runningContainers() {
    String ids = Docker.out("ps", "-q", "--filter", "label=com.docker.swarm.service.name=" + service, "--filter", "status=running");
    return ids.isEmpty() ? List.of() : ids.lines().toList();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    if (deployed) {
      Docker.out("stack", "rm", name);
      // The task containers go asynchronously; their volumes can go only after them.
      Poll.until("the stack's containers to be gone", START,
          () -> Docker.out("ps", "-aq", "--filter", "label=com.docker.stack.namespace=" + name).isEmpty());
      Poll.until("the stack's network to be gone", START,
          () -> Docker.out("network", "ls", "-q", "--filter", "label=com.docker.stack.namespace=" + name).isEmpty());
      // By label, and by name for volumes named from a template (NAME_vmlet-state-SLOT).
      String labelled = Docker.out("volume", "ls", "-q", "--filter", "label=com.docker.stack.namespace=" + name);
      String named = Docker.out("volume", "ls", "-q", "--filter", "name=" + name + "_");
      for (String v : (labelled + "\n" + named).lines().filter(v -> !v.isBlank()).distinct().toList()) {
        Docker.out("volume", "rm", v);
      }
    }
    for (String s : secrets) {
      Docker.out("secret", "rm", s);
    }
    if (labelBefore != null) {
      // A test may have taken the label away already (SwarmStackIT does, to see the task rejected);
      // docker refuses to remove a label that is not there.
      String now = label();
      if (!labelBefore.isEmpty()) {
        Docker.out("node", "update", "--label-add", LABEL + "=" + labelBefore, node);
      } else if (!now.isEmpty()) {
        Docker.out("node", "update", "--label-rm", LABEL, node);
      }
    }
  }

  /** The node's vm-capable label, or "" when it has none. */
  private String label() {
    return Docker.out("node", "inspect", "--format", "{{index .Spec.Labels \"" + LABEL + "\"}}", node);
  }
}
