package dev.vmlet.net;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.qemu.QemuUser;
import java.util.List;

class TapDevicesTest {
  @TempDir Path sys;

  @Test
  void aTapDevice_isAccepted() throws Exception {
    Files.createDirectories(sys.resolve("sys/class/net/tap0"));
    Files.writeString(sys.resolve("sys/class/net/tap0/tun_flags"), "0x1002\n");
    assertThatCode(() -> new TapDevices(sys).require("tap0")).doesNotThrowAnyException();
  }

  @Test
  void aMissingDevice_isRefusedWithTheCommandsToMakeIt() {
    assertThatThrownBy(() -> new TapDevices(sys).require("tap0"))
        .hasMessageContaining("there is no interface 'tap0'").hasMessageContaining("ip link set tap0 master br0 up");
  }

  @Test
  void aBridgeOrNicOfThatName_isNotATap() throws Exception {
    Files.createDirectories(sys.resolve("sys/class/net/br0/bridge"));
    assertThatThrownBy(() -> new TapDevices(sys).require("br0")).hasMessageContaining("'br0' exists but is not a TAP device");
  }

  static final QemuUser QEMU = new QemuUser("vmlet-qemu", 999, 995, List.of(108));

  /** The kernel's rule (tun_not_capable): owner and group, each when set, must match the process. */
  @org.junit.jupiter.params.ParameterizedTest(name = "owner {0}, group {1}: usable {2}")
  @org.junit.jupiter.params.provider.CsvSource({
      "-1, -1, true", "999, -1, true", "-1, 995, true", "-1, 108, true", "999, 995, true",
      "0, -1, false", "-1, 0, false", "999, 0, false", "1000, 995, false"})
  void qemusUser_mayAttach_onlyWhereTheKernelLetsItIn(long owner, long group, boolean usable) throws Exception {
    Files.createDirectories(sys.resolve("sys/class/net/tap0"));
    Files.writeString(sys.resolve("sys/class/net/tap0/owner"), owner + "\n");
    Files.writeString(sys.resolve("sys/class/net/tap0/group"), group + "\n");
    if (usable) {
      assertThatCode(() -> new TapDevices(sys).requireUsableBy("tap0", QEMU)).doesNotThrowAnyException();
    } else {
      assertThatThrownBy(() -> new TapDevices(sys).requireUsableBy("tap0", QEMU))
          .hasMessageContaining("QEMU runs as user vmlet-qemu (uid 999), which may not attach to 'tap0' (owner uid " + owner)
          .hasMessageContaining("ip tuntap add dev tap0 mode tap user vmlet-qemu");
    }
  }
}
