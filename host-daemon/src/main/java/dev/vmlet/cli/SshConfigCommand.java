package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.WatchVmsRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "ssh-config", mixinStandardHelpOptions = true,
    description = {"Write an SSH client include file with a Host NAME.vmlet per VM that has SSH (cloud images),",
        "so plain ssh NAME.vmlet, scp and editors' remote modes work; says the Include line to add to ~/.ssh/config if it lacks one.",
        "Run it again after launching or deleting a VM, or keep it current with --watch."})
final class SshConfigCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Option(names = "--file", paramLabel = "PATH", description = "The include file (default: ~/.ssh/config.d/vmlet).")
  Path file;

  @Option(names = "--watch", description = "Keep running and rewrite the file whenever a VM changes (until interrupted).")
  boolean watch;

  @Option(names = "--print", description = "Print the entries to stdout instead of writing the file.")
  boolean print;

  @Override
  public Integer call() throws Exception {
    Path home = Path.of(System.getProperty("user.home"));
    Path target = (file == null ? home.resolve(".ssh/config.d/vmlet") : file).toAbsolutePath();
    Path knownHosts = target.resolveSibling(target.getFileName() + ".known_hosts");
    try (DaemonClient c = client.connect()) {
      String content = SshConfigFile.render(list(c), knownHosts, p -> Files.isReadable(Path.of(p)));
      if (print) {
        System.out.print(content);
        return 0;
      }
      SshConfigFile.write(target, content);
      long hosts = content.lines().filter(l -> l.startsWith("Host ")).count();
      System.out.println("Wrote " + target + ": " + hosts + " host" + (hosts == 1 ? "" : "s") + " (ssh NAME" + SshConfigFile.SUFFIX + ")");
      Optional<String> include = SshConfigFile.missingInclude(home.resolve(".ssh/config"), target, home);
      include.ifPresent(line -> System.out.println("Your ~/.ssh/config does not include it yet: add this line at its top,"
          + " before any Host line:\n  " + line));
      if (watch) {
        follow(c, target, knownHosts, content);
      }
      return 0;
    }
  }

  /** Rewrites the file after every event that can change a VM's SSH port: a start, stop, crash or delete. */
  private void follow(DaemonClient c, Path target, Path knownHosts, String last) throws Exception {
    Iterator<VmEvent> it = c.vms().watchVms(WatchVmsRequest.getDefaultInstance()); // no deadline: runs until interrupted
    while (it.hasNext()) {
      VmEvent e = it.next();
      if (e.getKind() == VmEvent.Kind.CURRENT || e.getKind() == VmEvent.Kind.WATCHING) {
        continue;
      }
      String content = SshConfigFile.render(list(c), knownHosts, p -> Files.isReadable(Path.of(p)));
      if (!content.equals(last)) {
        SshConfigFile.write(target, content);
        System.out.println("Rewrote " + target + " (" + e.getName() + ": " + e.getKind() + ")");
        last = content;
      }
    }
  }

  private static List<Vm> list(DaemonClient c) {
    return c.vms().withDeadlineAfter(30, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance()).getVmsList();
  }
}
