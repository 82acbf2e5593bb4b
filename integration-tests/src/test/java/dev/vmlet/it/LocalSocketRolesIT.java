package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The unix socket by peer uid: a member of group vmlet is an operator, another user cannot
 * connect, root is admin; each as a real process of a real user running the vmlet CLI.
 */
class LocalSocketRolesIT {
  @TempDir Path tmp;

  record Ran(int code, String out) {}

  static Ran run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    return new Ran(p.waitFor(60, TimeUnit.SECONDS) ? p.exitValue() : -1, out);
  }

  @Test
  void groupMembersAreOperators_othersCannotConnect() throws Exception {
    Qemu.assumeInstalled();
    assumeTrue(run("id", "-u").out().strip().equals("0"), "making users needs root");
    boolean madeGroup = run("getent", "group", "vmlet").code() != 0;
    if (madeGroup) {
      assertThat(run("groupadd", "--system", "vmlet").code()).isZero();
    }
    String member = "vmlet-op-" + ProcessHandle.current().pid();
    String stranger = "vmlet-no-" + ProcessHandle.current().pid();
    List<String> users = new ArrayList<>();
    try {
      assertThat(run("useradd", "--system", "--no-create-home", "--groups", "vmlet", member).code()).isZero();
      users.add(member);
      assertThat(run("useradd", "--system", "--no-create-home", stranger).code()).isZero();
      users.add(stranger);
      run("chmod", "755", tmp.toString());
      try (TestDaemon d = TestDaemon.start(tmp)) {
        Path socket = d.paths.socket();
        run("chmod", "755", socket.getParent().toString());
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-rw----");
        String java = ProcessHandle.current().info().command().orElse("java");
        String jar = Path.of("..", "host-daemon", "target", "vmlet.jar").toAbsolutePath().normalize().toString();
        Ran list = run("runuser", "-u", member, "--", java, "-jar", jar, "list", "--socket", socket.toString());
        assertThat(list.code()).as(list.out()).isZero();
        assertThat(list.out()).startsWith("NAME");
        Ran stop = run("runuser", "-u", member, "--", java, "-jar", jar, "stop", "nope", "--socket", socket.toString());
        assertThat(stop.out()).contains("no VM named 'nope'"); // past the role check
        Ran gpu = run("runuser", "-u", member, "--", java, "-jar", jar, "gpu", "passthrough", "01:00.0", "--socket", socket.toString());
        assertThat(gpu.code()).isNotZero();
        assertThat(gpu.out()).contains("PassthroughGpu needs the admin role").contains("(" + member + ") is operator");
        Ran denied = run("runuser", "-u", stranger, "--", java, "-jar", jar, "list", "--socket", socket.toString());
        assertThat(denied.code()).isNotZero();
        assertThat(denied.out()).contains("no permission to use the daemon's socket").contains("group vmlet");
        assertThat(Files.readString(d.paths.stateDir().resolve("audit.log")))
            .contains("(" + member + ") role=operator method=vmlet.v1.NodeService/PassthroughGpu vm=- outcome=PERMISSION_DENIED");
      }
    } finally {
      for (String u : users) {
        run("userdel", u);
      }
      if (madeGroup) {
        run("groupdel", "vmlet");
      }
    }
  }
}
