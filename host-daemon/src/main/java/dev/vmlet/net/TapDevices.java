package dev.vmlet.net;

import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.vmlet.qemu.QemuUser;
import java.io.IOException;

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

  /**
   * Checks that QEMU's user may attach to the TAP device: the kernel lets a process without
   * CAP_NET_ADMIN in only when the device's owner (if it has one) is that user and its group (if it
   * has one) is one of the user's.
   *
   * @throws VmException FAILED_PRECONDITION naming the owner and the command that makes a usable TAP
   */
  public void requireUsableBy(String tap, QemuUser user) {
    Ownership o = ownership(tap);
    long owner = o.owner();
    long group = o.group();
    boolean ownerOk = owner == -1 || owner == user.uid();
    boolean groupOk = group == -1 || group == user.gid() || user.groups().contains((int) group);
    if (!ownerOk || !groupOk) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "network.tap: QEMU runs as user " + user.name() + " (uid "
          + user.uid() + "), which may not attach to '" + tap + "' (owner uid " + owner + ", group gid " + group
          + "); make it that user's: ip tuntap del dev " + tap + " mode tap && ip tuntap add dev " + tap + " mode tap user "
          + user.name() + " (then put it on its bridge again)");
    }
  }

  /** A TAP's owner uid and group gid as sysfs shows them; -1 for none. */
  public record Ownership(long owner, long group) {}

  /** The owner and group of {@code tap}; both -1 when it has none (or there is no such device). */
  public Ownership ownership(String tap) {
    Path dev = sysRoot.resolve("sys/class/net").resolve(tap);
    return new Ownership(id(dev.resolve("owner")), id(dev.resolve("group")));
  }

  /** A TAP's owner or group as sysfs shows it; -1 for none. */
  private static long id(Path file) {
    try {
      return Long.parseLong(Files.readString(file).strip());
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }
}
