package dev.vmlet.vm;

import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessResult;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;

/**
 * Runs one command in a guest over SSH with the VM's own key, for what the daemon wants to know
 * when the agent cannot tell it (why an agent never phoned home). Bounded in time and output.
 */
public final class SshProbe {
  /** The user vmlet's cloud-init part creates and gives the VM's key. */
  public static final String USER = "vmlet";
  static final int MAX_OUTPUT = 4096;
  static final Duration CLOUD_INIT_TIMEOUT = Duration.ofSeconds(20);

  private SshProbe() {}

  /**
   * Whether an SSH server answers on host:port: it sends the "SSH-" banner within 3 s. Before a
   * guest's sshd is up, QEMU's user-mode forward accepts the connection and then says nothing or
   * resets it, so an open port alone proves nothing.
   */
  public static boolean answersBanner(String host, int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), 1000);
      s.setSoTimeout(3000);
      byte[] banner = s.getInputStream().readNBytes(4);
      return new String(banner, StandardCharsets.US_ASCII).equals("SSH-");
    } catch (IOException e) {
      return false;
    }
  }

  /** What the command printed (stdout and stderr) and its exit code; -1 when it timed out. */
  public record Result(int exitCode, String output) {}

  /** As {@link #run(ProcessRunner, String, int, Path, Duration, List)} with the host's ssh. */
  public static Result run(String host, int port, Path identity, Duration timeout, List<String> command) throws IOException {
    return run(ProcessRunner.system(), host, port, identity, timeout, command);
  }

  /**
   * Runs {@code command} as {@link #USER} on host:port with {@code identity}.
   *
   * @throws IOException if ssh cannot be run at all
   */
  public static Result run(ProcessRunner runner, String host, int port, Path identity, Duration timeout, List<String> command)
      throws IOException {
    List<String> argv = new ArrayList<>(List.of("ssh", "-i", identity.toString(), "-p", Integer.toString(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "ConnectTimeout=" + Math.max(1, timeout.toSeconds()), USER + "@" + host));
    argv.addAll(command);
    ProcessResult r = runner.run(ProcessRequest.of(timeout, argv).withStderrMerged().withOutputLimit(MAX_OUTPUT));
    if (r.timedOut()) {
      return new Result(-1, "ssh did not finish within " + timeout.toSeconds() + " s");
    }
    return new Result(r.exitCode(), r.stdout().strip());
  }

  /** {@code cloud-init status --long} in the guest, or why it could not be asked. */
  public static String cloudInitStatus(String host, int port, Path identity) {
    return cloudInitStatus(ProcessRunner.system(), host, port, identity);
  }

  static String cloudInitStatus(ProcessRunner runner, String host, int port, Path identity) {
    try {
      Result r = run(runner, host, port, identity, CLOUD_INIT_TIMEOUT, List.of("cloud-init", "status", "--long"));
      return r.output().isEmpty() ? "(no output, exit " + r.exitCode() + ")" : r.output();
    } catch (InterruptedIOException e) {
      return "interrupted";
    } catch (IOException e) {
      return "cannot run ssh: " + e.getMessage();
    }
  }
}
