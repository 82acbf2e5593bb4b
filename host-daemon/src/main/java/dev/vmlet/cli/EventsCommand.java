package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.WatchVmsRequest;
import java.time.Instant;
import java.util.Iterator;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "events", mixinStandardHelpOptions = true,
    description = {"Print VM lifecycle events as they happen (state changes, agent connected/lost, crashes) until interrupted.",
        "First the current state of each VM (CURRENT), then WATCHING: every change after that line is printed.",
        "With --format json: one JSON object per line."})
final class EventsCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Mixin OutputFormat output;

  @Parameters(arity = "0..1", paramLabel = "NAME", description = "Only this VM.")
  String name;

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      // No deadline: this call is meant to run until the user stops it.
      Iterator<VmEvent> it = c.vms().watchVms(WatchVmsRequest.newBuilder().setName(name == null ? "" : name).build());
      while (it.hasNext()) {
        VmEvent e = it.next();
        if (output.json()) {
          System.out.println(OutputFormat.toJsonLine(e));
        } else {
          System.out.printf("%s %-20s %-15s %-9s %s%n", Instant.ofEpochMilli(e.getAtUnixMs()), e.getName(), e.getKind(),
              e.getState(), e.getMessage());
        }
        System.out.flush();
      }
      return 0;
    }
  }
}
