package dev.vmlet.net;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
}
