package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon as a fresh non-root user (no capabilities, in group kvm where the host has one) boots
 * the micro VM with user-mode networking: nothing in the default path needs root.
 */
class NonRootDaemonIT {
  @TempDir Path tmp;

  @Test
  void aNonRootDaemon_bootsTheMicroVm() throws Exception {
    TestDaemon.start(tmp.resolve("builder")).close(); // the micro image, built (as root) into the shared cache if stale
    try (NonRootDaemon d = NonRootDaemon.start(tmp)) {
      DaemonClient c = d.client;
      var vm = c.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName("unpriv").setMemoryMib(512)).setStart(true).build());
      assertThat(NonRootDaemon.uidOf(vm.getPid())).isNotEqualTo("0"); // QEMU runs as that user too
      try {
        Guests.waitReady(c, "unpriv");
      } catch (RuntimeException e) {
        throw new AssertionError("the VM did not come up: " + c.vms().getVm(VmRef.newBuilder().setName("unpriv")
            .build()).getLastError() + "\ndaemon log:\n" + Files.readString(d.log), e);
      }
      assertThat(Guests.sh(c, "unpriv", "echo up")).isEqualTo("up\n");
      System.out.println("micro VM under a non-root daemon (uid " + NonRootDaemon.uidOf(vm.getPid()) + "): agent ready");
      c.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("unpriv").setForce(true).build());
    }
  }
}
