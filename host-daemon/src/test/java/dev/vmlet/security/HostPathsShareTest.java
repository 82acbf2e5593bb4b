package dev.vmlet.security;

import static dev.vmlet.security.HostPathsTest.ALICE;
import static dev.vmlet.security.HostPathsTest.BOSS;
import static dev.vmlet.security.HostPathsTest.CI;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.Share;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A shared directory is a host path: virtiofsd serves it with root's rights, so a local user may share only its own. */
class HostPathsShareTest {
  @TempDir Path dir;
  Path allowed;
  Path outside;
  FakeHostFiles files;
  HostPaths paths;

  @BeforeEach
  void setUp() throws Exception {
    dir = dir.toRealPath();
    allowed = Files.createDirectories(dir.resolve("shares"));
    outside = Files.createDirectories(dir.resolve("private"));
    files = new FakeHostFiles();
    paths = new HostPaths(List.of(allowed), files, dir.resolve("sysfs"));
  }

  static CreateVmRequest share(Path hostDir) {
    return CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("s1")
        .addShares(Share.newBuilder().setHostPath(hostDir.toString()).setGuestPath("/mnt/x"))).build();
  }

  @Test
  void aLocalOperator_mayNotShareEvenADirectoryItOwns() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "giving a directory to uid 1001 needs root");
    Path own = Files.createDirectories(outside.resolve("alice-work"));
    Files.setAttribute(own, "unix:uid", 1001);
    files.readable.add(own);
    assertThatThrownBy(() -> paths.decide(ALICE, share(own))).isInstanceOf(HostPathException.class)
        .hasMessage("spec.shares[0].host_path " + own + ": sharing a host directory needs the admin role, because virtiofsd"
            + " serves it as root and the guest's root could leave a set-uid root program in it; uid 1001 (alice) is "
            + ALICE.role().label() + "; ask the node's admin, or copy files with vmlet cp");
  }

  @Test
  void aRemoteOperator_mayNotShareEvenUnderAnAllowedDirectory() throws Exception {
    Path under = Files.createDirectories(allowed.resolve("work"));
    assertThatThrownBy(() -> paths.decide(CI, share(under))).isInstanceOf(HostPathException.class)
        .hasMessageContaining("sharing a host directory needs the admin role");
  }

  @Test
  void anAdmin_mayShareAnyDirectory() {
    CreateVmRequest decided = (CreateVmRequest) paths.decide(BOSS, share(outside)).request();
    assertThat(decided.getSpec().getShares(0).getHostPath()).isEqualTo(outside.toString());
  }
}
