package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

@Command(name = "ssh", mixinStandardHelpOptions = true,
    description = {"Open an SSH session to a cloud-image VM as user vmlet with the VM's own key, through its forwarded port.",
        "With a command after --, run it and exit with its exit code. Needs ssh (openssh-client)."})
final class SshCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
  String name;

  @Parameters(index = "1..*", paramLabel = "CMD", description = "A command to run instead of a shell.")
  List<String> command = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    Vm v;
    try (DaemonClient c = client.connect()) {
      v = c.vms().withDeadlineAfter(30, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
    }
    if (v.getSshUser().isEmpty()) {
      throw new CliException("VM '" + name + "' has no SSH key from vmlet: only cloud images (--image debian or a disk image) get one");
    }
    if (v.getSshPort() == 0) {
      throw new CliException("VM '" + name + "' has no SSH port now (state " + v.getState() + "); start it first");
    }
    List<String> argv = new ArrayList<>(List.of("ssh", "-i", v.getSshIdentityFile(), "-p", Integer.toString(v.getSshPort()),
        // The host key is new with every VM: pinning it in known_hosts would only produce warnings.
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "IdentitiesOnly=yes", v.getSshUser() + "@" + v.getSshHost()));
    argv.addAll(command);
    try {
      return new ProcessBuilder(argv).inheritIO().start().waitFor();
    } catch (java.io.IOException e) {
      throw new CliException("cannot run ssh: " + e.getMessage() + "; install it with: apt-get install -y openssh-client");
    }
  }
}
