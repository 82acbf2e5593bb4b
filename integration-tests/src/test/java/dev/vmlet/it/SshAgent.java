package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.testing.Poll;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A real ssh-agent of the test's own (openssh-client), holding one ed25519 key made by ssh-keygen; ended by close. */
final class SshAgent implements AutoCloseable {
  final Path socket;
  final String publicKey;
  private final Process process;

  private SshAgent(Path socket, String publicKey, Process process) {
    this.socket = socket;
    this.publicKey = publicKey;
    this.process = process;
  }

  static SshAgent start(Path dir) throws Exception {
    Files.createDirectories(dir);
    Path key = dir.resolve("agent_ed25519");
    run(Map.of(), "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vmlet-it-agent", "-f", key.toString());
    Path socket = dir.resolve("agent.sock");
    Process p = new ProcessBuilder("ssh-agent", "-D", "-a", socket.toString()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    SshAgent agent = new SshAgent(socket, Files.readString(dir.resolve("agent_ed25519.pub")).strip(), p);
    try {
      // The socket's file appears at bind(2), before the agent listens: a connection in between is
      // refused (seen under load). `ssh-add -l` exits 2 only when it cannot reach the agent.
      Map<String, String> env = Map.of("SSH_AUTH_SOCK", socket.toString());
      Poll.until("ssh-agent to answer on " + socket, Duration.ofSeconds(30), () -> exitCode(env, "ssh-add", "-l") != 2);
      run(env, "ssh-add", "-q", key.toString());
      Files.delete(key); // from here on only the agent holds the private key
    } catch (Exception | AssertionError e) {
      agent.close();
      throw e;
    }
    return agent;
  }

  private static void run(Map<String, String> env, String... argv) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as(String.join(" ", argv)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", argv) + ": " + out).isZero();
  }

  /** The exit code of a command whose output is discarded; -1 when it cannot run or does not end in 30 s. */
  private static int exitCode(Map<String, String> env, String... argv) {
    try {
      ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return -1;
      }
      return p.exitValue();
    } catch (java.io.IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
