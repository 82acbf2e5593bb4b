package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.common.at.Control;
import dev.vmlet.host.HostAccess;
import dev.vmlet.spec.SnapshotInfo;
import dev.vmlet.vm.VmManager;
import dev.vmlet.vm.VmView;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.time.Instant;

/**
 * The daemon's VMs (and, for admins, its host) as the targets of a line. The @host rule fails
 * closed: only a {@link HostPolicy#ALLOW} policy reaches the host.
 *
 * @param info how {@code --info} prints a VM (the API's JSON form)
 */
public record VmTargets(VmManager manager, HostAccess host, HostPolicy hostPolicy, Duration stopTimeout, Function<VmView, String> info)
    implements Targets {
  /** Whether this line's caller may run commands on the daemon's host ({@code @host}). */
  public record HostPolicy(boolean allowed, String why) {
    /** An admin's line. */
    public static final HostPolicy ALLOW = new HostPolicy(true, "");

    /** @param why who the caller is and why that is not enough, e.g. "alice is operator" */
    public static HostPolicy refuse(String why) {
      return new HostPolicy(false, why);
    }
  }

  @Override
  public AgentLink agent(String vm) {
    if (!host.isHost(vm)) {
      return manager.agent(vm);
    }
    if (!hostPolicy.allowed()) {
      throw new SecurityException("@" + vm + " (the daemon's host) needs the admin role; " + hostPolicy.why());
    }
    return host.link(vm);
  }

  @Override
  public List<String> select(String key, String value) {
    return manager.list().stream().filter(v -> value.equals(v.record().config().labels().get(key)))
        .map(v -> v.record().config().name()).sorted().toList();
  }

  @Override
  public String control(String vm, Control c) {
    if (host.isHost(vm)) {
      throw new IllegalArgumentException("@" + vm + " is the daemon's host, not a VM: --" + c.action() + " acts on VMs only");
    }
    switch (c.action()) {
      case "pause" -> manager.pause(vm);
      case "resume" -> manager.resume(vm);
      case "start" -> manager.start(vm);
      case "stop" -> manager.stop(vm, false, stopTimeout);
      case "info" -> {
        return info.apply(manager.get(vm));
      }
      case "snapshot" -> {
        return snapshot(vm, c);
      }
      default -> throw new IllegalArgumentException("unknown control --" + c.action());
    }
    return "";
  }

  private String snapshot(String vm, Control c) {
    switch (c.snapshotAction()) {
      case "save" -> manager.createSnapshot(vm, c.snapshotName());
      case "restore" -> manager.restoreSnapshot(vm, c.snapshotName());
      case "delete" -> manager.deleteSnapshot(vm, c.snapshotName());
      case "list" -> {
        StringBuilder b = new StringBuilder();
        for (SnapshotInfo si : manager.listSnapshots(vm)) {
          b.append(si.name()).append('\t').append(Instant.ofEpochMilli(si.createdAtMs()))
              .append('\t').append(si.vmStateBytes()).append('\n');
        }
        return b.toString();
      }
      default -> throw new IllegalArgumentException("unknown --snapshot " + c.snapshotAction());
    }
    return "";
  }
}
