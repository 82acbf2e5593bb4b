package dev.vmlet.vfio;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.vm.PciAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VfioDevicesTest {
  @TempDir Path sys;

  private void device(String address, String driver) throws Exception {
    Path dev = Files.createDirectories(sys.resolve("sys/bus/pci/devices").resolve(address));
    if (driver != null) {
      Path drv = Files.createDirectories(sys.resolve("sys/bus/pci/drivers").resolve(driver));
      Files.createSymbolicLink(dev.resolve("driver"), drv);
    }
  }

  @Test
  void aDeviceBoundToVfioPci_isAccepted() throws Exception {
    device("0000:01:00.0", "vfio-pci");
    assertThatCode(() -> new VfioDevices(sys).require(List.of(new PciAddress("01:00.0")))).doesNotThrowAnyException();
  }

  @Test
  void aDeviceBoundToItsNativeDriver_isRefusedNamingTheDriver() throws Exception {
    device("0000:01:00.0", "nvidia");
    assertThatThrownBy(() -> new VfioDevices(sys).require(List.of(new PciAddress("01:00.0"))))
        .hasMessageContaining("0000:01:00.0 is bound to nvidia, not vfio-pci");
  }

  @Test
  void anUnboundDevice_isRefused() throws Exception {
    device("0000:01:00.0", null);
    assertThatThrownBy(() -> new VfioDevices(sys).require(List.of(new PciAddress("01:00.0"))))
        .hasMessageContaining("is bound to no driver");
  }

  @Test
  void aMissingDevice_isRefused() {
    assertThatThrownBy(() -> new VfioDevices(sys).require(List.of(new PciAddress("02:00.0"))))
        .hasMessageContaining("there is no PCI device 0000:02:00.0");
  }
}
