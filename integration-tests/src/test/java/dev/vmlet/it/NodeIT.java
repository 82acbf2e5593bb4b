package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proto.v1.Capabilities;
import dev.vmlet.proto.v1.GetCapabilitiesRequest;
import dev.vmlet.proto.v1.GpuRequest;
import dev.vmlet.proto.v1.ListGpusRequest;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.proto.v1.Accel;
import java.nio.file.Files;

/** NodeService against this real machine: what it reports must be what the machine has. */
class NodeIT {
  @TempDir Path tmp;

  @Test
  void theCapabilityReport_describesThisMachine() throws Exception {
    try (TestDaemon d = TestDaemon.start(tmp)) {
      Capabilities c = d.client.node().withDeadlineAfter(60, TimeUnit.SECONDS).getCapabilities(GetCapabilitiesRequest.getDefaultInstance());
      System.out.println("node info on this machine:\n" + c);
      assertThat(c.getQemuBinary()).endsWith("/qemu-system-x86_64");
      assertThat(c.getQemuVersion()).startsWith("QEMU emulator version");
      assertThat(c.getHostCpus()).isEqualTo(Runtime.getRuntime().availableProcessors());
      assertThat(c.getKvmPresent()).isEqualTo(Files.exists(Path.of("/dev/kvm")));
      assertThat(c.getAccel()).isIn(Accel.ACCEL_KVM, Accel.ACCEL_TCG);
      assertThat(c.getKvmWorks()).isEqualTo(c.getAccel() == Accel.ACCEL_KVM);
      assertThat(c.getOvmfList()).isNotEmpty(); // scripts/test installs ovmf
      assertThat(c.getPassthroughNote()).contains("fake sysfs only");
      var gpus = d.client.node().listGpus(ListGpusRequest.getDefaultInstance());
      System.out.println("gpus on this machine: " + gpus.getGpusCount());
      assertThatThrownBy(() -> d.client.node().passthroughGpu(GpuRequest.newBuilder().setAddress("0000:ee:1f.7").build()))
          .hasMessageContaining("no PCI device 0000:ee:1f.7");
      String first = Files.list(Path.of("/sys/bus/pci/devices")).map(p -> p.getFileName().toString()).sorted()
          .findFirst().orElseThrow();
      assertThatThrownBy(() -> d.client.node().reclaimGpu(GpuRequest.newBuilder().setAddress(first).build()))
          .hasMessageContaining("FAILED_PRECONDITION").hasMessageContaining("nothing to give back");
      assertThatThrownBy(() -> d.client.node().reclaimGpu(GpuRequest.newBuilder().setAddress("bogus").build()))
          .hasMessageContaining("INVALID_ARGUMENT").hasMessageContaining("not a PCI address");
    }
  }
}
