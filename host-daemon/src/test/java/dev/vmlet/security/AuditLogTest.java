package dev.vmlet.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.Map;

class AuditLogTest {
  @TempDir Path dir;

  /** Ends one call, named paths and all, in a log of its own; returns the log's lines. */
  private List<String> logged(Access.Caller caller, String method, boolean always, List<HostPathFields.Named> named, String decision,
      Status outcome) throws Exception {
    AuditLog log = new AuditLog(dir.resolve(method.replace('/', '-') + ".log"));
    AuditLog.Entry e = log.begin(caller, method, always);
    e.paths(named, decision);
    log.end(e, outcome);
    return Files.exists(log.file()) ? Files.readAllLines(log.file()) : List.of();
  }

  @Test
  void aCallThatNamedHostPaths_isAudited_withThePathsAndTheDecision_evenWhenItChangesNothing() throws Exception {
    assertThat(logged(HostPathsTest.CI, "vmlet.v1.VmService/DryRun", false,
        List.of(new HostPathFields.Named("spec.disks[0].base_image", "/tmp/worldread.img", "/tmp/worldread.img")), "denied",
        Status.PERMISSION_DENIED)).singleElement().asString().endsWith(" caller=ci role=operator method=vmlet.v1.VmService/DryRun"
            + " vm=- outcome=PERMISSION_DENIED paths=spec.disks[0].base_image=/tmp/worldread.img paths_decision=denied");
    assertThat(logged(HostPathsTest.CI, "vmlet.v1.VmService/GetVm", false, List.of(), "allowed", Status.OK)).isEmpty();
  }

  @Test
  void aPathCannotForgeALine_orAnotherField() throws Exception {
    assertThat(logged(HostPathsTest.ALICE, "vmlet.v1.VmService/CreateVm", true,
        List.of(new HostPathFields.Named("spec.kernel.path", "/a b\n2024 caller=root,x", "/real\\k")), "allowed", Status.OK))
        .singleElement().asString()
        .endsWith(" paths=spec.kernel.path=/a\\x20b\\x0a2024\\x20caller=root\\x2cx->/real\\x5ck paths_decision=allowed");
  }

  @Test
  void refusedCalls_andLinesThatCouldNotBeWritten_areCounted_forTheMetrics() throws Exception {
    Path notADirectory = Files.writeString(dir.resolve("file"), "x");
    AuditLog log = new AuditLog(dir.resolve("audit.log"));
    AuditLog broken = new AuditLog(notADirectory.resolve("audit.log"));
    for (AuditLog l : List.of(log, broken)) {
      l.end(l.begin(HostPathsTest.CI, "vmlet.v1.VmService/StopVm", true), Status.PERMISSION_DENIED);
      l.end(l.begin(HostPathsTest.CI, "vmlet.v1.VmService/StopVm", true), Status.OK);
      l.end(l.begin(HostPathsTest.CI, "vmlet.v1.VmService/CreateVm", true), Status.PERMISSION_DENIED);
    }

    assertThat(log.refusedByMethod()).containsExactly(Map.entry("vmlet.v1.VmService/CreateVm", 1L),
        Map.entry("vmlet.v1.VmService/StopVm", 1L));
    assertThat(log.writeFailures()).isZero();
    assertThat(broken.writeFailures()).isEqualTo(3);
  }
}
