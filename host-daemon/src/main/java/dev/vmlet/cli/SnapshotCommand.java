package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.ListSnapshotsResponse;
import dev.vmlet.proto.v1.Snapshot;
import dev.vmlet.proto.v1.SnapshotRequest;
import dev.vmlet.proto.v1.VmRef;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "snapshot", mixinStandardHelpOptions = true,
    description = {"Internal snapshots of a VM's qcow2 disks: with memory while it runs, disk-only when stopped.",
        "The VM needs a disk (launch --disk ...)."},
    subcommands = {SnapshotCommand.Create.class, SnapshotCommand.ListSnapshots.class, SnapshotCommand.Restore.class,
        SnapshotCommand.Delete.class})
final class SnapshotCommand implements Runnable {
  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  abstract static class Base implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Mixin OutputFormat output;

    @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
    String name;
  }

  abstract static class Named extends Base {
    @Parameters(index = "1", paramLabel = "SNAPSHOT", description = "The snapshot.")
    String snapshot;

    SnapshotRequest request() {
      return SnapshotRequest.newBuilder().setName(name).setSnapshot(snapshot).build();
    }
  }

  @Command(name = "create", mixinStandardHelpOptions = true, description = "Take a snapshot.")
  static final class Create extends Named {
    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        Snapshot s = c.vms().withDeadlineAfter(10, TimeUnit.MINUTES).createSnapshot(request());
        output.print(s, () -> System.out.println("Snapshot " + s.getName() + " of " + name + " taken"
            + (s.getVmStateBytes() > 0 ? " (with " + s.getVmStateBytes() / (1 << 20) + " MiB of memory state)" : " (disks only)")));
        return 0;
      }
    }
  }

  @Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List a VM's snapshots.")
  static final class ListSnapshots extends Base {
    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        ListSnapshotsResponse r = c.vms().withDeadlineAfter(30, TimeUnit.SECONDS).listSnapshots(VmRef.newBuilder().setName(name).build());
        output.print(r, () -> {
          String fmt = "%-24s %-24s %s%n";
          System.out.printf(fmt, "SNAPSHOT", "TAKEN", "MEMORY");
          for (Snapshot s : r.getSnapshotsList()) {
            System.out.printf(fmt, s.getName(), Instant.ofEpochMilli(s.getCreatedUnixMs()),
                s.getVmStateBytes() > 0 ? s.getVmStateBytes() / (1 << 20) + " MiB" : "-");
          }
        });
        return 0;
      }
    }
  }

  @Command(name = "restore", mixinStandardHelpOptions = true, description = "Go back to a snapshot.")
  static final class Restore extends Named {
    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        var vm = c.vms().withDeadlineAfter(10, TimeUnit.MINUTES).restoreSnapshot(request());
        output.print(vm, () -> System.out.println("Restored " + name + " to " + snapshot));
        return 0;
      }
    }
  }

  @Command(name = "delete", aliases = "rm", mixinStandardHelpOptions = true, description = "Delete a snapshot.")
  static final class Delete extends Named {
    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        var left = c.vms().withDeadlineAfter(10, TimeUnit.MINUTES).deleteSnapshot(request());
        output.print(left, () -> System.out.println("Deleted snapshot " + snapshot + " of " + name));
        return 0;
      }
    }
  }
}
