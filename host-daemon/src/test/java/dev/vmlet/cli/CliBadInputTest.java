package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CliBadInputTest {
  @TempDir Path dir;
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream oldErr;

  @BeforeEach
  void captureStderr() {
    oldErr = System.err;
    System.setErr(new PrintStream(err, true));
  }

  @AfterEach
  void restoreStderr() {
    System.setErr(oldErr);
  }

  private int run(String... args) {
    return Main.run(args);
  }

  @Test
  void launch_withPathInName_failsWithOneLine_andCreatesNothing() throws Exception {
    assertThat(run("launch", "--name", "../x", "--socket", dir.resolve("s.sock").toString())).isEqualTo(1);
    assertThat(err.toString()).isEqualTo(
        "vmlet: name '../x' is not allowed: use lower-case letters, digits and '-', starting with a letter or digit\n");
    try (var files = Files.list(dir)) {
      assertThat(files).isEmpty();
    }
  }

  @Test
  void daemon_withMetricsOnANonLoopbackAddress_isRefusedUnlessToldOtherwise_beforeAnythingStarts() {
    assertThat(run("daemon", "--metrics", "192.0.2.1:9100", "--socket", dir.resolve("s").toString(), "--state-dir",
        dir.resolve("state").toString(), "--run-dir", dir.resolve("run").toString())).isEqualTo(1);
    assertThat(err.toString()).contains("--metrics 192.0.2.1:9100 is not a loopback address").contains("--metrics-non-local");
    assertThat(dir.resolve("s")).doesNotExist();
  }

  private int daemon(String... more) {
    String[] base = {"daemon", "--socket", dir.resolve("s").toString(), "--state-dir", dir.resolve("state").toString(), "--run-dir",
        dir.resolve("run").toString()};
    String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
    System.arraycopy(more, 0, all, base.length, more.length);
    return run(all);
  }

  @Test
  void daemon_withPeersThatAreNotADnsTarget_saysTheSyntax_beforeAnythingStarts() {
    assertThat(daemon("--peers", "tasks.vmlet:7443")).isEqualTo(1);
    assertThat(err.toString()).contains("--peers 'tasks.vmlet:7443'").contains("dns:NAME:PORT or dns://SERVER[:DNSPORT]/NAME:PORT");
    assertThat(dir.resolve("s")).doesNotExist();
  }

  @Test
  void daemon_withPeersButNoPeerCertificate_saysHowToMakeOne_beforeAnythingStarts() {
    assertThat(daemon("--peers", "dns:tasks.vmlet:7443")).isEqualTo(1);
    assertThat(err.toString()).contains("--peers needs this daemon's client certificate")
        .contains(dir.resolve("state/pki/clients/peer.pem").toString()).contains("vmlet certs issue peer --role operator");
    assertThat(dir.resolve("s")).doesNotExist();
  }

  @Test
  void daemon_withANodeNameAtTargetsCannotSay_isRefused() {
    assertThat(daemon("--node-name", "Node_A")).isEqualTo(1);
    assertThat(err.toString()).contains("a node name is 1-63 lower-case letters, digits and '-'").contains("'Node_A'");
    assertThat(dir.resolve("s")).doesNotExist();
  }

  @Test
  void top_withoutAMetricsEndpoint_saysHowToGetOne() {
    assertThat(run("top", "--once", "--socket", dir.resolve("s").toString())).isEqualTo(1);
    assertThat(err.toString()).startsWith("vmlet: no metrics address in " + dir.resolve("metrics.address"))
        .contains("start the daemon with --metrics 127.0.0.1:PORT");
  }

  @Test
  void launch_withEmptyOrLongName_fails() {
    assertThat(run("launch", "--name", "", "--socket", dir.resolve("s").toString())).isEqualTo(1);
    assertThat(run("launch", "--name", "a".repeat(64), "--socket", dir.resolve("s").toString())).isEqualTo(1);
    assertThat(err.toString()).contains("name must not be empty").contains("at most 63 characters");
  }

  @Test
  void launch_withCpusOrMemoryOutOfRange_fails() {
    assertThat(run("launch", "--name", "a", "--cpus", "0", "--socket", dir.resolve("s").toString())).isEqualTo(1);
    assertThat(run("launch", "--name", "a", "--memory", "99999999", "--socket", dir.resolve("s").toString())).isEqualTo(1);
    assertThat(err.toString()).contains("vcpus must be between 1 and 64, got 0").contains("memory_mib must be between");
  }

  @Test
  void launch_withABadDiskOrForward_failsBeforeContactingTheDaemon() {
    String sock = dir.resolve("s").toString();
    assertThat(run("launch", "--name", "a", "--disk", "size=10", "--socket", sock)).isEqualTo(1);
    assertThat(run("launch", "--name", "a", "--disk", "name=d,size=x", "--socket", sock)).isEqualTo(1);
    assertThat(run("launch", "--name", "a", "--disk", "name=d,base=rel.qcow2", "--socket", sock)).isEqualTo(1);
    assertThat(run("launch", "--name", "a", "--forward", "80", "--socket", sock)).isEqualTo(1);
    assertThat(err.toString())
        .contains("--disk size=10: needs name=NAME")
        .contains("size must be a whole number of MiB")
        .contains("must be an absolute path")
        .contains("forward '80' is not [ADDRESS:]HOST_PORT:GUEST_PORT")
        .doesNotContain("no vmlet daemon");
  }

  @Test
  void clientCommand_withNoDaemon_saysHowToStartOne() {
    assertThat(run("list", "--socket", dir.resolve("none.sock").toString())).isEqualTo(1);
    assertThat(err.toString()).contains("no vmlet daemon is listening on " + dir.resolve("none.sock"))
        .contains("vmlet daemon");
  }

  @Test
  void exec_withoutACommand_isAUsageError() {
    assertThat(run("exec", "demo")).isEqualTo(2);
  }
}
