package dev.vmlet.cli;

import io.grpc.StatusRuntimeException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The vmlet launcher: {@code vmlet daemon} serves; every other subcommand is a client. */
@Command(name = "vmlet", mixinStandardHelpOptions = true, version = "vmlet 0.1.0",
    description = "Run QEMU/KVM virtual machines and the commands inside them.")
public final class Main implements Runnable {
  /**
   * The subcommands, in the order the help lists them, each with its name and aliases as its
   * {@code @Command} says (MainTest checks that they agree). Written out rather than read from the
   * annotations: parsing 27 classes' annotations cost about 8 % of a `vmlet list`.
   */
  static final Map<String, Class<?>> SUBCOMMANDS = table(
      "daemon", DaemonCommand.class, "node", NodeCommand.class, "nodes", NodesCommand.class, "gpu", GpuCommand.class, "certs", CertsCommand.class,
      "launch", LaunchCommand.class, "list ls", ListCommand.class, "info", InfoCommand.class, "guest-info", GuestInfoCommand.class,
      "shell", ShellCommand.class, "run", RunCommand.class, "exec", ExecCommand.class, "cp", CpCommand.class, "ssh", SshCommand.class,
      "ssh-config", SshConfigCommand.class,
      "start", VmActionCommands.Start.class, "stop", StopCommand.class, "restart", VmActionCommands.Restart.class,
      "pause", VmActionCommands.Pause.class, "resume", VmActionCommands.Resume.class, "delete rm", DeleteCommand.class,
      "dry-run", DryRunCommand.class, "events", EventsCommand.class, "top", TopCommand.class, "console", ConsoleCommand.class,
      "snapshot", SnapshotCommand.class, "template", TemplateCommand.class, "disk", DiskCommand.class, "image", ImageCommand.class, "demo", DemoCommand.class,
      "help", CommandLine.HelpCommand.class);

  @Override
  public void run() {
    commandLine(null).usage(System.out);
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
    CommandLine cl = commandLine(args.length > 0 ? args[0] : null);
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

  /**
   * The command line with every subcommand, or with only the one that {@code first} names. Picocli
   * builds a subcommand's whole model by reflection when it is added; building all 27 took 0.9 s of
   * a 2.5 s `vmlet list` (docs/benchmarks.md, "The command line"), so a line that names its
   * subcommand gets that one alone. It parses the same: the rest of the line can only reach that
   * subcommand. Help, the version and anything unknown (for picocli's "did you mean") get them all.
   */
  static CommandLine commandLine(String first) {
    Class<?> only = null;
    for (Map.Entry<String, Class<?>> e : SUBCOMMANDS.entrySet()) {
      if (first != null && e.getValue() != CommandLine.HelpCommand.class && List.of(e.getKey().split(" ")).contains(first)) {
        only = e.getValue();
      }
    }
    CommandLine cl = new CommandLine(new Main());
    for (Class<?> c : SUBCOMMANDS.values()) {
      if (only == null || c == only) {
        cl.addSubcommand(c);
      }
    }
    return cl;
  }

  /** Pairs of "name aliases..." and class, in order. */
  private static Map<String, Class<?>> table(Object... pairs) {
    Map<String, Class<?>> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      m.put((String) pairs[i], (Class<?>) pairs[i + 1]);
    }
    return Collections.unmodifiableMap(m);
  }

  static String describe(StatusRuntimeException e) {
    String d = e.getStatus().getDescription();
    return d != null ? d : e.getStatus().getCode().toString();
  }
}
