package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.common.testing.Poll;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A daemon process run by a fresh non-root system user (no capabilities, in group kvm where the
 * host has one), on directories under a test's temporary directory; closing it ends the daemon and
 * its processes and deletes the user. Needs root to make the user: skips the test otherwise.
 */
final class NonRootDaemon implements AutoCloseable {
  final String user;
  final Path home;
  final Path log;
  final DaemonClient client;
  private final Process process;

  private NonRootDaemon(String user, Path home, Path log, Process process, DaemonClient client) {
    this.user = user;
    this.home = home;
    this.log = log;
    this.process = process;
    this.client = client;
  }

  static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  static String uidOf(long pid) throws Exception {
    return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith("Uid:")).findFirst().orElseThrow()
        .split("\\s+")[1];
  }

  /** Makes the user and starts {@code vmlet daemon} as it, with the image cache shared with the other tests. */
  static NonRootDaemon start(Path tmp) throws Exception {
    Qemu.assumeInstalled();
    assumeTrue(new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"), "making a user needs root");
    String user = "vmlet-it-" + ProcessHandle.current().pid();
    List<String> add = new ArrayList<>(List.of("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"));
    if (run("getent", "group", "kvm") == 0) {
      add.addAll(List.of("--groups", "kvm"));
    }
    add.add(user);
    assertThat(run(add.toArray(String[]::new))).isZero();
    Process daemon = null;
    try {
      Path home = Files.createDirectories(tmp.resolve("home"));
      assertThat(run("chown", "-R", user, home.toString())).isZero();
      assertThat(run("chmod", "755", tmp.toString())).isZero();
      Path socket = home.resolve("run/vmlet.sock");
      Path log = tmp.resolve("daemon.log");
      Path daemonJar = Path.of("..", "host-daemon", "target", "vmlet.jar").toAbsolutePath().normalize();
      String java = ProcessHandle.current().info().command().orElse("java");
      // -XX:-UsePerfData: no /tmp/hsperfdata_USER left behind by the user deleted after the test.
      daemon = new ProcessBuilder("runuser", "-u", user, "--", java, "-XX:-UsePerfData", "-Dvmlet.agentJar=" + System.getProperty("vmlet.agentJar"),
          "-jar", daemonJar.toString(), "daemon", "--socket", socket.toString(), "--state-dir", home.resolve("state").toString(),
          "--run-dir", home.resolve("run").toString(), "--cache-dir", TestDaemon.microImage().getParent().getParent().toString())
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      Process started = daemon;
      Poll.until("the daemon to listen on " + socket + " or exit", Duration.ofSeconds(60),
          () -> DaemonClient.isListening(socket) || !started.isAlive());
      assertThat(DaemonClient.isListening(socket)).as(Files.readString(log)).isTrue();
      assertThat(uidOf(daemon.toHandle().descendants().filter(h -> h.info().command().orElse("").contains("java")).findFirst()
          .orElse(daemon.toHandle()).pid())).isNotEqualTo("0");
      return new NonRootDaemon(user, home, log, daemon, new DaemonClient(socket));
    } catch (Throwable t) {
      end(daemon, user);
      throw t;
    }
  }

  @Override
  public void close() throws Exception {
    client.close();
    end(process, user);
  }

  private static void end(Process daemon, String user) throws Exception {
    if (daemon != null) {
      daemon.toHandle().descendants().forEach(ProcessHandle::destroy);
      daemon.destroy();
      daemon.waitFor(10, TimeUnit.SECONDS);
    }
    run("pkill", "-KILL", "-u", user);
    run("userdel", user);
  }
}
