package dev.vmlet.net;

import dev.vmlet.vm.VmException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks that a TAP device the operator named exists. vmlet never creates one: that needs
 * CAP_NET_ADMIN, which the daemon does not ask for.
 */
public final class TapDevices {
  private final Path sysRoot;

  /** @param sysRoot "/" on a real host; a fake tree in tests */
  public TapDevices(Path sysRoot) {
    this.sysRoot = sysRoot;
  }

  /** @throws VmException FAILED_PRECONDITION when there is no such TAP device, with the commands to make one */
  public void require(String tap) {
    Path dev = sysRoot.resolve("sys/class/net").resolve(tap);
    if (!Files.exists(dev)) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "network.tap: there is no interface '" + tap
          + "' on this host; create it on a bridge first, e.g. ip tuntap add dev " + tap
          + " mode tap && ip link set " + tap + " master br0 up");
    }
    // Only tun/tap devices have tun_flags; a bridge or NIC with that name would make QEMU fail obscurely.
    if (!Files.exists(dev.resolve("tun_flags"))) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION,
          "network.tap: '" + tap + "' exists but is not a TAP device (it has no tun_flags)");
    }
  }
}
