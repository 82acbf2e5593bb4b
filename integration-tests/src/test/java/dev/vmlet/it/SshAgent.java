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
      Poll.until("ssh-agent to listen on " + socket, Duration.ofSeconds(30), () -> Files.exists(socket));
      run(Map.of("SSH_AUTH_SOCK", socket.toString()), "ssh-add", "-q", key.toString());
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

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
