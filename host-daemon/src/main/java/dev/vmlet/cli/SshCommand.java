package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.vm.SshProbe;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import java.io.IOException;

@Command(name = "ssh", mixinStandardHelpOptions = true,
    description = {"Open an SSH session to a cloud-image VM as user vmlet with the VM's own key, through its forwarded port.",
        "Right after a launch it first waits (--wait) for the guest's SSH server, saying what it waits for.",
        "With a command after --, run it and exit with its exit code. Needs ssh (openssh-client)."})
final class SshCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
  String name;

  @Parameters(index = "1..*", paramLabel = "CMD", description = "A command to run instead of a shell.")
  List<String> command = new ArrayList<>();

  @Option(names = "--wait", paramLabel = "SECONDS", defaultValue = "300",
      description = "How long to wait for the guest's SSH server to answer (default: ${DEFAULT-VALUE}; 0: fail at once saying why).")
  int waitSeconds;

  @Override
  public Integer call() throws Exception {
    Vm v;
    try (DaemonClient c = client.connect()) {
      v = getVm(c);
      if (v.getSshUser().isEmpty()) {
        throw new CliException("VM '" + name + "' has no SSH key from vmlet: only cloud images (--image debian or a disk image) get one");
      }
      if (v.getSshPort() == 0) {
        throw new CliException("VM '" + name + "' has no SSH port now (state " + v.getState() + "); start it first");
      }
      v = awaitSshServer(c, v);
    }
    List<String> argv = new ArrayList<>(List.of("ssh", "-i", v.getSshIdentityFile(), "-p", Integer.toString(v.getSshPort()),
        // The host key is new with every VM: pinning it in known_hosts would only produce warnings.
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "IdentitiesOnly=yes", v.getSshUser() + "@" + v.getSshHost()));
    argv.addAll(command);
    try {
      return new ProcessBuilder(argv).inheritIO().start().waitFor();
    } catch (IOException e) {
      throw new CliException("cannot run ssh: " + e.getMessage() + "; install it with: apt-get install -y openssh-client");
    }
  }

  /**
   * Until something answers with an SSH banner on the VM's port, bounded by --wait. Before the
   * guest's sshd is up, user-mode networking accepts the connection and resets it, which ssh
   * reports as a bare "kex_exchange_identification: Connection reset by peer".
   */
  private Vm awaitSshServer(DaemonClient c, Vm v) throws InterruptedException {
    if (SshProbe.answersBanner(v.getSshHost(), v.getSshPort())) {
      return v;
    }
    if (waitSeconds <= 0) {
      throw new CliException(SshWait.notUp(name, v, System.currentTimeMillis(), 0));
    }
    long t0 = System.nanoTime();
    long deadline = t0 + TimeUnit.SECONDS.toNanos(waitSeconds);
    String said = SshWait.boot(v, System.currentTimeMillis());
    System.err.println("Waiting up to " + waitSeconds + " s for the SSH server of VM '" + name + "' on " + v.getSshHost() + ":"
        + v.getSshPort() + " (" + said + ")");
    while (System.nanoTime() < deadline) {
      Thread.sleep(2000);
      v = getVm(c);
      if (v.getState() != VmState.RUNNING || v.getSshPort() == 0) {
        throw new CliException(SshWait.notUp(name, v, System.currentTimeMillis(), 0));
      }
      if (SshProbe.answersBanner(v.getSshHost(), v.getSshPort())) {
        System.err.println("SSH is up after " + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0) + " s");
        return v;
      }
      String now = SshWait.boot(v, System.currentTimeMillis());
      // Say it again only when the boot moved on (the agent came, cloud-init finished), not every tick.
      if (!now.replaceAll("started \\d+ s ago; ", "").equals(said.replaceAll("started \\d+ s ago; ", ""))) {
        System.err.println("  still waiting: " + now);
        said = now;
      }
    }
    throw new CliException(SshWait.notUp(name, v, System.currentTimeMillis(), waitSeconds));
  }

  private Vm getVm(DaemonClient c) {
    return c.vms().withDeadlineAfter(30, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
  }
}
