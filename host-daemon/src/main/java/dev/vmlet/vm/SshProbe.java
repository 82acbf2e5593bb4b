package dev.vmlet.vm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one command in a guest over SSH with the VM's own key, for what the daemon wants to know
 * when the agent cannot tell it (why an agent never phoned home). Bounded in time and output.
 */
public final class SshProbe {
  /** The user vmlet's cloud-init part creates and gives the VM's key. */
  public static final String USER = "vmlet";
  private static final int MAX_OUTPUT = 4096;

  private SshProbe() {}

  /** What the command printed (stdout and stderr) and its exit code; -1 when it timed out. */
  public record Result(int exitCode, String output) {}

  /**
   * Runs {@code command} as {@link #USER} on host:port with {@code identity}.
   *
   * @throws IOException if ssh cannot be run at all
   */
  public static Result run(String host, int port, Path identity, Duration timeout, List<String> command)
      throws IOException, InterruptedException {
    List<String> argv = new java.util.ArrayList<>(List.of("ssh", "-i", identity.toString(), "-p", Integer.toString(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "ConnectTimeout=" + Math.max(1, timeout.toSeconds()), USER + "@" + host));
    argv.addAll(command);
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .start();
    byte[] out;
    try (var in = p.getInputStream()) {
      // A reader thread: readNBytes alone would block past the timeout on a hung session.
      var reader = new java.util.concurrent.CompletableFuture<byte[]>();
      Thread t = new Thread(() -> {
        try {
          reader.complete(in.readNBytes(MAX_OUTPUT));
        } catch (IOException e) {
          reader.complete(new byte[0]);
        }
      }, "ssh-probe");
      t.setDaemon(true);
      t.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        return new Result(-1, "ssh did not finish within " + timeout.toSeconds() + " s");
      }
      try {
        out = reader.get(5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
        out = new byte[0];
      }
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
  }

  /** {@code cloud-init status --long} in the guest, or why it could not be asked. */
  public static String cloudInitStatus(String host, int port, Path identity) {
    try {
      Result r = run(host, port, identity, Duration.ofSeconds(20), List.of("cloud-init", "status", "--long"));
      return r.output().isEmpty() ? "(no output, exit " + r.exitCode() + ")" : r.output();
    } catch (IOException e) {
      return "cannot run ssh: " + e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }
}
