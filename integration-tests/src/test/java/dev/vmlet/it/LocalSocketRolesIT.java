package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.regex.Pattern;

/**
 * The unix socket by peer uid: a member of group vmlet is an operator, another user cannot
 * connect, root is admin; each as a real process of a real user running the vmlet CLI. A member
 * may name the host files it can read itself, and no others (issue 22).
 */
class LocalSocketRolesIT {
  static final String MEMBER = "vmlet-op-" + ProcessHandle.current().pid();
  static final String STRANGER = "vmlet-no-" + ProcessHandle.current().pid();
  static final List<String> USERS = new ArrayList<>();
  static boolean madeGroup;

  @TempDir Path tmp;

  record Ran(int code, String out) {}

  static Ran run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    return new Ran(p.waitFor(60, TimeUnit.SECONDS) ? p.exitValue() : -1, out);
  }

  /** The vmlet CLI as {@code user}, against {@code socket}. */
  static Ran vmlet(String user, Path socket, String... args) throws Exception {
    // -XX:-UsePerfData: no /tmp/hsperfdata_USER left behind by a user deleted after the test.
    List<String> cmd = new ArrayList<>(List.of("runuser", "-u", user, "--", ProcessHandle.current().info().command().orElse("java"),
        "-XX:-UsePerfData", "-jar", Path.of("..", "host-daemon", "target", "vmlet.jar").toAbsolutePath().normalize().toString()));
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("--socket", socket.toString()));
    return run(cmd.toArray(String[]::new));
  }

  @BeforeAll
  static void users() throws Exception {
    Qemu.assumeInstalled();
    assumeTrue(run("id", "-u").out().strip().equals("0"), "making users needs root");
    madeGroup = run("getent", "group", "vmlet").code() != 0;
    if (madeGroup) {
      assertThat(run("groupadd", "--system", "vmlet").code()).isZero();
    }
    assertThat(run("useradd", "--system", "--no-create-home", "--groups", "vmlet", MEMBER).code()).isZero();
    USERS.add(MEMBER);
    assertThat(run("useradd", "--system", "--no-create-home", STRANGER).code()).isZero();
    USERS.add(STRANGER);
  }

  @AfterAll
  static void removeUsers() throws Exception {
    for (String u : USERS) {
      run("userdel", u);
    }
    if (madeGroup) {
      run("groupdel", "vmlet");
    }
  }

  /** A daemon whose socket the users can reach (JUnit makes temporary directories 0700). */
  TestDaemon daemon() throws Exception {
    run("chmod", "755", tmp.toString());
    TestDaemon d = TestDaemon.start(tmp);
    run("chmod", "755", d.paths.socket().getParent().toString());
    return d;
  }

  @Test
  void groupMembersAreOperators_othersCannotConnect() throws Exception {
    try (TestDaemon d = daemon()) {
      Path socket = d.paths.socket();
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-rw----");
      Ran list = vmlet(MEMBER, socket, "list");
      assertThat(list.code()).as(list.out()).isZero();
      assertThat(list.out()).startsWith("NAME");
      Ran stop = vmlet(MEMBER, socket, "stop", "nope");
      assertThat(stop.out()).contains("no VM named 'nope'"); // past the role check
      Ran gpu = vmlet(MEMBER, socket, "gpu", "passthrough", "01:00.0");
      assertThat(gpu.code()).isNotZero();
      assertThat(gpu.out()).contains("PassthroughGpu needs the admin role").contains("(" + MEMBER + ") is operator");
      Ran denied = vmlet(STRANGER, socket, "list");
      assertThat(denied.code()).isNotZero();
      assertThat(denied.out()).contains("no permission to use the daemon's socket").contains("group vmlet");
      assertThat(Files.readString(d.paths.stateDir().resolve("audit.log")))
          .contains("(" + MEMBER + ") role=operator method=vmlet.v1.NodeService/PassthroughGpu vm=- outcome=PERMISSION_DENIED");
    }
  }

  @Test
  void aMember_mayNameAFileItCanRead_butNotOneOnlyRootCanRead() throws Exception {
    try (TestDaemon d = daemon()) {
      Path socket = d.paths.socket();
      Path own = disk(tmp.resolve("own.img"), "rw-r--r--");
      assertThat(run("chown", MEMBER, own.toString()).code()).isZero();
      Path rootOnly = disk(tmp.resolve("root-only.img"), "rw-------");
      // Past the path check, a dry run under a root daemon also checks that QEMU's own user can reach
      // the file, which the test's directories may not allow: the audit line says what was decided.
      Ran mine = vmlet(MEMBER, socket, "dry-run", "--name", "mine", "--disk", "name=d0,base=" + own);
      assertThat(mine.out()).doesNotContain("cannot read it");
      String uid = run("id", "-u", MEMBER).out().strip();
      Ran theirs = vmlet(MEMBER, socket, "dry-run", "--name", "theirs", "--disk", "name=d0,base=" + rootOnly);
      assertThat(theirs.code()).isNotZero();
      assertThat(theirs.out()).contains("spec.disks[0].base_image " + rootOnly + ": uid " + uid + " (" + MEMBER + ") cannot read it");
      Ran kernel = vmlet(MEMBER, socket, "dry-run", "--name", "k", "--kernel", rootOnly.toString());
      assertThat(kernel.out()).contains("spec.kernel.path " + rootOnly + ": uid " + uid + " (" + MEMBER + ") cannot read it");
      // root is admin: the same file is its to name (whether QEMU's own user can then read it is another check)
      vmlet("root", socket, "dry-run", "--name", "theirs", "--disk", "name=d0,base=" + rootOnly);
      assertThat(Files.readString(d.paths.stateDir().resolve("audit.log")))
          .contains("caller=uid 0 (root) role=admin method=vmlet.v1.VmService/DryRun vm=theirs outcome=FAILED_PRECONDITION"
              + " paths=spec.disks[0].base_image=" + rootOnly + " paths_decision=allowed")
          .contains("(" + MEMBER + ") role=operator method=vmlet.v1.VmService/DryRun vm=theirs outcome=PERMISSION_DENIED"
              + " paths=spec.disks[0].base_image=" + rootOnly + " paths_decision=denied")
          .containsPattern("\\(" + MEMBER + "\\) role=operator method=vmlet.v1.VmService/DryRun vm=mine outcome=(OK|FAILED_PRECONDITION)"
              + " paths=spec.disks\\[0\\].base_image=" + Pattern.quote(own.toString()) + " paths_decision=allowed");
    }
  }

  /** A 2 MiB raw disk image with this mode, owned by root. */
  static Path disk(Path file, String mode) throws Exception {
    assertThat(run("truncate", "-s", "2M", file.toString()).code()).isZero();
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
    return file;
  }
}
