package dev.vmlet.cli;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.RunCommandLineResponse;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "run", mixinStandardHelpOptions = true,
    description = {"Run a line of the @target language across VMs (docs/at-syntax.md); exits with its exit code.",
        "Examples: vmlet run '@web1 cat /etc/hosts | @db grep 10.0'    vmlet @web1 uptime",
        "Quote the line when it has | or >, or your own shell takes them."})
final class RunCommand implements Callable<Integer> {
  private static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9@%+=:,./_-]+");
  private static final List<String> OPERATORS = List.of("|", ">", ">>", "<", "2>", "2>&1");

  @Mixin ClientOptions client;

  @Option(names = "--pipefail", description = "Exit with the last failing stage's code (and name it), not the last stage's.")
  boolean pipefail;

  @Option(names = "--timeout", defaultValue = "0", paramLabel = "SECONDS", description = "Cancel the line after this long (0: one hour).")
  int timeout;

  @Parameters(arity = "1..*", paramLabel = "LINE", description = "The line; several arguments are joined, each quoted as needed.")
  List<String> words;

  /** One argument is the line; several (vmlet @web1 echo 'a b') are re-quoted so none is split again. */
  static String line(List<String> words) {
    if (words.size() == 1) {
      return words.get(0);
    }
    StringBuilder sb = new StringBuilder();
    for (String w : words) {
      if (sb.length() > 0) {
        sb.append(' ');
      }
      sb.append(OPERATORS.contains(w) || PLAIN.matcher(w).matches() ? w : "'" + w.replace("'", "'\\''") + "'");
    }
    return sb.toString();
  }

  @Override
  public Integer call() throws Exception {
    try (DaemonClient c = client.connect()) {
      Iterator<RunCommandLineResponse> it = c.vms().withDeadlineAfter(timeout == 0 ? 3700 : timeout + 60L, TimeUnit.SECONDS)
          .runCommandLine(RunCommandLineRequest.newBuilder().setLine(line(words)).setPipefail(pipefail).setTimeoutSeconds(timeout).build());
      while (it.hasNext()) {
        RunCommandLineResponse r = it.next();
        switch (r.getPayloadCase()) {
          case STDOUT -> {
            System.out.write(r.getStdout().toByteArray());
            System.out.flush();
          }
          case STDERR -> {
            System.err.write(r.getStderr().getData().toByteArray());
            System.err.flush();
          }
          case RESULT -> {
            if (!r.getResult().getFailure().isEmpty() && pipefail) {
              System.err.println("vmlet: " + r.getResult().getFailure());
            }
            return r.getResult().getExitCode();
          }
          default -> { }
        }
      }
      throw new CliException("the daemon ended the line without a result");
    }
  }
}
