package dev.vmlet.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AuditLogTest {
  @TempDir Path dir;

  @Test
  void aCallThatNamedHostPaths_isAudited_withThePathsAndTheDecision_evenWhenItChangesNothing() throws Exception {
    AuditLog log = new AuditLog(dir.resolve("audit.log"));
    AuditLog.Entry read = log.begin(HostPathsTest.CI, "vmlet.v1.VmService/DryRun", false);
    read.paths(List.of(new HostPathFields.Named("spec.disks[0].base_image", "/tmp/worldread.img", "/tmp/worldread.img")), "denied");
    log.end(read, Status.PERMISSION_DENIED);
    AuditLog.Entry quiet = log.begin(HostPathsTest.CI, "vmlet.v1.VmService/DryRun", false);
    quiet.paths(List.of(), "allowed");
    log.end(quiet, Status.OK);
    assertThat(Files.readAllLines(dir.resolve("audit.log"))).singleElement().asString().endsWith(" caller=ci role=operator"
        + " method=vmlet.v1.VmService/DryRun vm=- outcome=PERMISSION_DENIED paths=spec.disks[0].base_image=/tmp/worldread.img"
        + " paths_decision=denied");
  }

  @Test
  void aPathCannotForgeALine_orAnotherField() throws Exception {
    AuditLog log = new AuditLog(dir.resolve("audit.log"));
    AuditLog.Entry e = log.begin(HostPathsTest.ALICE, "vmlet.v1.VmService/CreateVm", true);
    e.paths(List.of(new HostPathFields.Named("spec.kernel.path", "/a b\n2024 caller=root,x", "/real\\k")), "allowed");
    log.end(e, Status.OK);
    assertThat(Files.readAllLines(dir.resolve("audit.log"))).singleElement().asString()
        .endsWith(" paths=spec.kernel.path=/a\\x20b\\x0a2024\\x20caller=root\\x2cx->/real\\x5ck paths_decision=allowed");
  }
}
