package dev.vmlet.spec;

import java.util.regex.Pattern;

/**
 * How a VM reaches the network, validated on construction.
 *
 * @param tap "" for user-mode networking (no privileges needed; port forwards), or the name of a
 *     TAP device the operator created and put on a bridge; QEMU opens it, vmlet never creates one
 */
public record Network(String tap) {
  public static final Network USER = new Network("");
  // Linux interface names: at most 15 bytes, no '/', no whitespace; be stricter than that.
  private static final Pattern IFNAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,14}");

  public Network {
    tap = tap == null ? "" : tap;
    if (!tap.isEmpty() && !IFNAME.matcher(tap).matches()) {
      throw VmException.invalid("network.tap '" + tap + "' is not an interface name: 1 to 15 letters, digits, '_', '.', '-'");
    }
  }

  public boolean isTap() {
    return !tap.isEmpty();
  }
}
