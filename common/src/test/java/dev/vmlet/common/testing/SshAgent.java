package dev.vmlet.common.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real ssh-agent (openssh-client) of a test's own, on a socket in a directory the test owns;
 * keys are made with ssh-keygen and added with ssh-add. Ended by {@link #close}. Shared by every
 * module's tests through the common test jar.
 */
public final class SshAgent implements AutoCloseable {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  /** The agent's socket, for {@code SSH_AUTH_SOCK} or ssh's {@code IdentityAgent}. */
  public final Path socket;
  private final Path dir;
  private final Process process;
  private int keys;

  private SshAgent(Path dir, Path socket, Process process) {
    this.dir = dir;
    this.socket = socket;
    this.process = process;
  }

  /**
   * Starts an agent without keys on {@code dir/agent.sock} and returns once it answers.
   *
   * <p>The socket's file appears at bind(2), before ssh-agent listens: a connection in between is
   * refused (seen under load). So this waits until {@code ssh-add -l} reaches the agent (it exits
   * 2 only when it cannot), not until the file exists.
   */
  public static SshAgent start(Path dir) throws Exception {
    Files.createDirectories(dir);
    Path socket = dir.resolve("agent.sock");
    Process p = new ProcessBuilder("ssh-agent", "-D", "-a", socket.toString()).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    SshAgent agent = new SshAgent(dir, socket, p);
    try {
      Poll.until("ssh-agent to answer on " + socket, TIMEOUT, () -> agent.exitCode("ssh-add", "-l") != 2);
    } catch (Exception | AssertionError e) {
      agent.close();
      throw e;
    }
    return agent;
  }

  /**
   * Makes a new ed25519 key with {@code comment} in the agent's directory, adds it to the agent and
   * deletes the private key's file (only the agent holds it then).
   *
   * @return the public key's line, as in its {@code .pub} file, without the line's end
   */
  public String addNewKey(String comment) throws Exception {
    Path key = dir.resolve("key" + (++keys) + "_ed25519");
    run(Map.of(), "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", key.toString());
    run(Map.of("SSH_AUTH_SOCK", socket.toString()), "ssh-add", "-q", key.toString());
    Files.delete(key);
    return Files.readString(key.resolveSibling(key.getFileName() + ".pub")).strip();
  }

  /** Runs a command to its end; fails the test unless it exits 0 within 30 s, with its output. */
  private static void run(Map<String, String> env, String... argv) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", argv) + " did not end in " + TIMEOUT.toSeconds() + " s: " + out);
    }
    if (p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", argv) + " exited with " + p.exitValue() + ": " + out);
    }
  }

  /** The exit code of a command against this agent, its output discarded; -1 when it does not end in 30 s. */
  private int exitCode(String... argv) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("SSH_AUTH_SOCK", socket.toString());
    Process p = pb.start();
    if (!p.waitFor(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return -1;
    }
    return p.exitValue();
  }

  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
