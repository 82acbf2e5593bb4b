package dev.vmlet.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import dev.vmlet.client.DaemonClient;

@Command(name = "shell", mixinStandardHelpOptions = true,
    description = {"An interactive login shell in a VM through its agent, on a pseudo-terminal (bash if the guest has it, else sh).",
        "Without NAME: a prompt where each line is @target syntax (history, Tab completes targets, Ctrl-C cancels the line)."})
final class ShellCommand implements Callable<Integer> {
  @Mixin ClientOptions client;

  @Option(names = {"-u", "--user"}, paramLabel = "USER", description = "Log in as this guest user (the agent runs as root).")
  String user;

  @Parameters(paramLabel = "NAME", arity = "0..1", description = "The VM; without it, the @target prompt.")
  String name;

  @Override
  public Integer call() throws Exception {
    if (name == null) {
      if (user != null) {
        throw new CliException("--user needs a VM name (vmlet shell NAME --user USER)");
      }
      try (DaemonClient c = client.connect()) {
        return AtPrompt.run(c);
      }
    }
    ExecCommand exec = new ExecCommand();
    exec.client = client;
    exec.name = name;
    exec.user = user;
    exec.tty = true;
    exec.stdin = true;
    exec.shell = "cd 2>/dev/null; if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";
    return exec.call();
  }
}
