package dev.vmlet.cli;

import io.grpc.StatusRuntimeException;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The vmlet launcher: {@code vmlet daemon} serves; every other subcommand is a client. */
@Command(name = "vmlet", mixinStandardHelpOptions = true, version = "vmlet 0.1.0",
    description = "Run QEMU/KVM virtual machines and the commands inside them.",
    subcommands = {DaemonCommand.class, NodeCommand.class, GpuCommand.class, CertsCommand.class, LaunchCommand.class, ListCommand.class, InfoCommand.class, GuestInfoCommand.class, ShellCommand.class, RunCommand.class,
        ExecCommand.class, CpCommand.class, SshCommand.class, VmActionCommands.Start.class, StopCommand.class, VmActionCommands.Restart.class,
        VmActionCommands.Pause.class, VmActionCommands.Resume.class, DeleteCommand.class, DryRunCommand.class,
        EventsCommand.class, TopCommand.class, ConsoleCommand.class, SnapshotCommand.class, DiskCommand.class, ImageCommand.class, DemoCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI and returns its exit code; errors are printed as one line on stderr. */
  public static int run(String... args) {
    Logging.configure(Level.WARNING);
    if (args.length > 0 && args[0].startsWith("@")) {
      // vmlet @web1 uptime: a line of the @target language
      // Everything after "--" is the line: `vmlet @web1 ls -la` keeps -la for ls (VMLET_SOCKET picks the daemon).
      String[] withRun = new String[args.length + 2];
      withRun[0] = "run";
      withRun[1] = "--";
      System.arraycopy(args, 0, withRun, 2, args.length);
      args = withRun;
    }
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      if (e instanceof CliException ce) {
        System.err.println("vmlet: " + ce.getMessage());
        return ce.exitCode();
      }
      if (e instanceof StatusRuntimeException sre) {
        System.err.println("vmlet: " + describe(sre));
        return 1;
      }
      Logger.getLogger("vmlet").log(Level.FINE, "failed", e);
      System.err.println("vmlet: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
      return 1;
    });
    return cl.execute(args);
  }

  static String describe(StatusRuntimeException e) {
    String d = e.getStatus().getDescription();
    return d != null ? d : e.getStatus().getCode().toString();
  }
}
