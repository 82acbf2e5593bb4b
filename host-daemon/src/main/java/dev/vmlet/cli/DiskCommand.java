package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.ResizeDiskRequest;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "disk", mixinStandardHelpOptions = true, description = "Manage a VM's disks.",
    subcommands = DiskCommand.Resize.class)
final class DiskCommand implements Runnable {
  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  @Command(name = "resize", mixinStandardHelpOptions = true,
      description = "Grow a disk to SIZE_MIB (live when the VM runs; the guest sees the new size at once).")
  static final class Resize implements Callable<Integer> {
    @Mixin ClientOptions client;

    @Mixin OutputFormat output;

    @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
    String name;

    @Parameters(index = "1", paramLabel = "DISK", description = "The disk's name.")
    String disk;

    @Parameters(index = "2", paramLabel = "SIZE_MIB", description = "The new size in MiB.")
    long sizeMib;

    @Override
    public Integer call() throws Exception {
      try (DaemonClient c = client.connect()) {
        var vm = c.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
            .resizeDisk(ResizeDiskRequest.newBuilder().setName(name).setDisk(disk).setSizeMib(sizeMib).build());
        output.print(vm, () -> System.out.println("Disk " + disk + " of " + name + " is now " + sizeMib + " MiB"));
        return 0;
      }
    }
  }
}
