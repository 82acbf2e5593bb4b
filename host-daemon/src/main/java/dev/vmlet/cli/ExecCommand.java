package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.ExecClient;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "exec", mixinStandardHelpOptions = true,
    description = {"Run a program in a VM through its agent; output streams as it is produced.",
        "Exits with the program's exit code (255 if it was killed, timed out or cancelled with Ctrl-C)."},
    usageHelpWidth = 100)
final class ExecCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(names = "--timeout", defaultValue = "0", paramLabel = "SECONDS", description = "Kill the program after this long (0: never).")
  int timeout;

  @Option(names = {"-i", "--stdin"}, description = "Send this command's standard input to the program (until end of input).")
  boolean stdin;

  @Option(names = {"-c", "--shell"}, paramLabel = "LINE", description = "Run LINE with the guest's shell (/bin/sh -c; cmd /c on Windows) instead of a program.")
  String shell;

  @Option(names = {"-u", "--user"}, paramLabel = "USER", description = "Run as this guest user (the agent runs as root).")
  String user;

  @Option(names = {"-e", "--env"}, paramLabel = "KEY=VALUE", description = "Set an environment variable (repeatable).")
  Map<String, String> env = Map.of();

  @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory in the guest.")
  String workdir;

  @Option(names = "--merge", description = "Send the program's stderr into its stdout, in order.")
  boolean merge;

  @Option(names = {"-t", "--tty"}, description = "Run the program on a pseudo-terminal of this terminal's size (with -i for an"
      + " interactive session: vmlet exec -it NAME -- bash); this terminal is in raw mode meanwhile. Linux guests.")
  boolean tty;

  @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
  String name;

  @Parameters(index = "1..*", paramLabel = "COMMAND", description = "Program and arguments (put -- before them).")
  List<String> command = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    if (command.isEmpty() == (shell == null)) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "give a program after the VM name (vmlet exec NAME -- ls -l) or a shell line with -c, not both");
    }
    ExecRequest.Builder req = ExecRequest.newBuilder().setName(name).addAllArgv(command).setTimeoutSeconds(timeout)
        .setStdin(stdin).setMergeOutput(merge).putAllEnv(env);
    if (shell != null) {
      req.setShell(shell);
    }
    if (user != null) {
      req.setUser(user);
    }
    if (workdir != null) {
      req.setWorkingDir(workdir);
    }
    boolean interactive = tty && stdin && Terminal.available();
    if (tty) {
      int[] size = Terminal.size();
      req.setTty(true).setRows(size[0]).setCols(size[1]);
      String term = System.getenv("TERM");
      if (term != null && !env.containsKey("TERM")) {
        req.putEnv("TERM", term); // the guest's programs draw for this terminal
      }
    }
    try (DaemonClient c = client.connect(); ExecClient exec = ExecClient.start(c.vmsAsync(), req.build());
         AutoCloseable raw = interactive ? Terminal.raw() : () -> { }) {
      Thread cancelOnInterrupt = new Thread(exec::close, "exec-cancel");
      Runtime.getRuntime().addShutdownHook(cancelOnInterrupt);
      if (interactive) {
        // The guest's terminal follows this one's size.
        sun.misc.Signal.handle(new sun.misc.Signal("WINCH"), sig -> {
          int[] size = Terminal.size();
          exec.resize(size[0], size[1]);
        });
      }
      if (stdin) {
        forwardStdin(exec);
      }
      try {
        return printUntilExit(exec);
      } finally {
        try {
          Runtime.getRuntime().removeShutdownHook(cancelOnInterrupt);
        } catch (IllegalStateException e) {
          // shutting down already
        }
      }
    }
  }

  private int printUntilExit(ExecClient exec) throws InterruptedException, IOException {
    ExecResponse r;
    while ((r = exec.next()) != null) {
      switch (r.getPayloadCase()) {
        case STDOUT -> {
          System.out.write(r.getStdout().toByteArray());
          System.out.flush();
        }
        case STDERR -> {
          System.err.write(r.getStderr().toByteArray());
          System.err.flush();
        }
        case EXIT -> {
          ExecExit e = r.getExit();
          if (e.getTimedOut()) {
            System.err.println("vmlet: command timed out after " + timeout + " s and was killed");
            return 255;
          }
          if (e.getCancelled()) {
            System.err.println("vmlet: command cancelled");
            return 255;
          }
          return e.getExitCode() < 0 ? 255 : e.getExitCode();
        }
        default -> { }
      }
    }
    throw new CliException("the daemon ended the exec without an exit status");
  }

  private static void forwardStdin(ExecClient exec) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[32 * 1024];
      try (InputStream in = System.in) {
        int n;
        while ((n = in.read(buf)) > 0) {
          exec.stdin(buf, 0, n);
        }
      } catch (IOException | RuntimeException e) {
        // the program ended, or our stdin failed: either way stdin ends here
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      try {
        exec.closeStdin();
      } catch (RuntimeException e) {
        // the call ended already
      }
    }, "exec-stdin");
    t.setDaemon(true);
    t.start();
  }
}
