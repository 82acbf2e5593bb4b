package dev.vmlet.share;

import dev.vmlet.spec.Share;
import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What this host needs for a VM's shares, checked at create (nothing is written before) and again
 * at start (a directory may have gone since): each host directory exists and is a directory, and
 * for virtiofs shares, virtiofsd is installed and the daemon runs as root (virtiofsd's namespace
 * sandbox needs it). 9p shares need neither: QEMU serves them.
 */
public final class ShareHost {
  private ShareHost() {}

  /**
   * @param missing the kind of error for a host directory that is not there: a bad argument at
   *     create, a failed precondition when it went away later
   * @param root whether the daemon runs as root
   */
  public static void check(List<Share> shares, Path binary, boolean root, VmException.Kind missing) {
    for (Share s : shares) {
      Path dir = Path.of(s.hostPath());
      if (!Files.exists(dir)) {
        throw new VmException(missing, "shares: host directory " + s.hostPath() + " does not exist; create it or give another");
      }
      if (!Files.isDirectory(dir)) {
        throw new VmException(missing, "shares: " + s.hostPath() + " is not a directory; share the directory that holds it");
      }
    }
    if (shares.stream().allMatch(Share::ninep)) {
      return; // QEMU serves 9p itself; QemuUserReach checks that its user can reach the directories
    }
    if (!Files.isExecutable(binary)) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "shares need virtiofsd, and " + binary
          + " is missing; install it with: apt-get install qemu-system-common");
    }
    if (!root) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "shares need the daemon to run as root: virtiofsd sandboxes"
          + " itself in namespaces, which needs root; run the daemon as root, or share with 9p (--share-type 9p) if the guest"
          + " kernel has it, or launch without --share");
    }
  }

  /** Whether this process runs as root. */
  public static boolean root() {
    return "root".equals(System.getProperty("user.name"));
  }
}
