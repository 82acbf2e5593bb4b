package dev.vmlet.cli;

import dev.vmlet.daemon.DaemonClient;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "exec", mixinStandardHelpOptions = true,
    description = {"Run a program in a VM through its agent; output streams as it is produced.",
        "Exits with the program's exit code (255 if it was killed or timed out)."},
    usageHelpWidth = 100)
final class ExecCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Option(names = "--timeout", defaultValue = "0", paramLabel = "SECONDS", description = "Kill the program after this long (0: never).")
  int timeout;

  @Parameters(index = "0", paramLabel = "NAME", description = "The VM.")
  String name;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "COMMAND", description = "Program and arguments (put -- before them).")
  List<String> command;

  @Override
  public Integer call() throws IOException, InterruptedException {
    try (DaemonClient c = client.connect()) {
      ExecRequest req = ExecRequest.newBuilder().setName(name).addAllArgv(command).setTimeoutSeconds(timeout).build();
      long deadline = timeout == 0 ? TimeUnit.DAYS.toSeconds(1) : timeout + 30L;
      Iterator<ExecResponse> it = c.vms().withDeadlineAfter(deadline, TimeUnit.SECONDS).exec(req);
      while (it.hasNext()) {
        ExecResponse r = it.next();
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
            return e.getExitCode() < 0 ? 255 : e.getExitCode();
          }
          default -> { }
        }
      }
      throw new CliException("the daemon ended the exec without an exit status");
    }
  }
}
