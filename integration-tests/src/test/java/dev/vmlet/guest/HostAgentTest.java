package dev.vmlet.guest;

import dev.vmlet.agent.AgentLink;
import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.host.HostAgent;
import dev.vmlet.proto.agent.v1.ExecStart;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.Files;

/** The @host agent: the real agent as a child process of the "daemon" (this JVM), over a unix socket. */
class HostAgentTest {
  @TempDir Path dir;

  private static List<String> agentCommand() {
    String java = ProcessHandle.current().info().command().orElse("java");
    return List.of(java, "-cp", System.getProperty("java.class.path"), AgentMain.class.getName());
  }

  private static String run(AgentLink link, String... argv) throws Exception {
    ProtocolHarness.Recorder r = new ProtocolHarness.Recorder();
    r.id = link.exec(ExecStart.newBuilder().addAllArgv(List.of(argv)).build(), r);
    return r.await().stdout();
  }

  @Test
  void runsCommandsOnTheHost_comesBackWhenKilled_andGoesWithTheDaemon() throws Exception {
    HostAgent host = HostAgent.start(agentCommand(), dir.resolve("host-agent.sock"), Duration.ofMillis(500));
    ProcessHandle first;
    try {
      AgentLink link = host.link(Duration.ofSeconds(20));
      assertThat(run(link, "sh", "-c", "echo $PPID")).isNotBlank();
      assertThat(run(link, "cat", "/proc/sys/kernel/hostname")).isEqualTo(Files.readString(Path.of("/proc/sys/kernel/hostname")));
      first = processOf(host);
      first.destroyForcibly();
      first.onExit().get(10, TimeUnit.SECONDS);
      long t0 = System.nanoTime();
      AgentLink again = awaitNewLink(host, link);
      System.out.printf("host agent back %.0f ms after it was killed%n", (System.nanoTime() - t0) / 1e6);
      assertThat(run(again, "echo", "again")).isEqualTo("again\n");
    } finally {
      host.close();
    }
    ProcessHandle last = processOf(host);
    last.onExit().get(10, TimeUnit.SECONDS);
    assertThat(last.isAlive()).isFalse();
    assertThat(dir.resolve("host-agent.sock")).doesNotExist();
  }

  private static ProcessHandle processOf(HostAgent host) throws Exception {
    var m = HostAgent.class.getDeclaredMethod("process");
    m.setAccessible(true);
    return ((Process) m.invoke(host)).toHandle();
  }

  private static AgentLink awaitNewLink(HostAgent host, AgentLink old) throws Exception {
    // link() waits for a ready link, but until the old one is seen gone it returns that one.
    return Poll.forValue("the host agent to come back with a new link", Duration.ofSeconds(20), () -> {
      try {
        AgentLink l = host.link(Duration.ofSeconds(1));
        return l != old ? l : null;
      } catch (IllegalStateException notYet) {
        return null; // restarting
      }
    });
  }
}
