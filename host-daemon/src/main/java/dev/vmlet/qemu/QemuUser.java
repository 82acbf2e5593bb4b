package dev.vmlet.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The unprivileged user a root daemon's QEMU runs as from its first instruction: {@code setpriv}
 * drops to it before QEMU starts, so QEMU never holds root, never calls setuid, and can run with
 * {@code -sandbox elevateprivileges=deny}. The daemon hands it the files QEMU writes (the VM's
 * disks, UEFI variables, run directory) and its agent token; everything else it only has to read.
 *
 * @param groups the supplementary groups QEMU keeps: the group of /dev/kvm, when that is not root's
 */
public record QemuUser(String name, int uid, int gid, List<Integer> groups) {
  static final String SETPRIV = "/usr/bin/setpriv";
  static final String PRLIMIT = "/usr/bin/prlimit";

  public QemuUser {
    groups = List.copyOf(groups);
  }

  /**
   * The programs in front of QEMU's own argv: {@code setpriv} drops to this user with no
   * capabilities, no supplementary groups but {@link #groups}, and no_new_privs, then execs QEMU.
   *
   * @param memlockBytes when positive, {@code prlimit} first raises the locked-memory limit to it
   *     (VFIO pins all guest memory, which the user may no longer do beyond its limit)
   */
  public List<String> prefix(long memlockBytes) {
    List<String> a = new ArrayList<>();
    if (memlockBytes > 0) {
      a.add(PRLIMIT);
      a.add("--memlock=" + memlockBytes + ":" + memlockBytes);
    }
    a.add(SETPRIV);
    a.add("--reuid=" + uid);
    a.add("--regid=" + gid);
    a.add(groups.isEmpty() ? "--clear-groups"
        : "--groups=" + groups.stream().map(String::valueOf).collect(Collectors.joining(",")));
    a.addAll(List.of("--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"));
    return a;
  }

  /** Makes this user the owner of a file QEMU writes or a directory it creates files in. */
  public void handOver(Path file) throws IOException {
    Files.setAttribute(file, "unix:uid", uid);
    Files.setAttribute(file, "unix:gid", gid);
  }

  /**
   * Why this user cannot open a file, or null when it can: every directory above it must let the
   * user through, and the file must grant it read (and write) permission.
   *
   * @param what the file's role, for the message ("the kernel", "disk root")
   */
  public String denied(Path file, boolean write, String what) {
    Path real;
    try {
      real = file.toRealPath();
    } catch (IOException e) {
      return what + " " + file + " does not exist";
    }
    Path dir = real.getRoot();
    for (Path part : real.getParent() == null ? List.<Path>of() : real.getParent()) {
      dir = dir.resolve(part);
      String why = lacks(dir, 1, "let it through", "chmod o+x " + dir);
      if (why != null) {
        return because(what, real, write, why);
      }
    }
    String why = lacks(real, write ? 6 : 4, write ? "let it read and write it" : "let it read it",
        write ? "chown " + name + " " + real : "chmod o+r " + real);
    return why == null ? null : because(what, real, write, why);
  }

  private String because(String what, Path file, boolean write, String why) {
    return "QEMU runs as user " + name + " (uid " + uid + "), which cannot " + (write ? "write " : "read ") + what + " " + file
        + ": " + why + ", or keep vmlet's directories where " + name + " can reach them";
  }

  /** Null when the mode grants this user every bit of {@code need} (r=4, w=2, x=1); else why not and the fix. */
  private String lacks(Path p, int need, String verb, String fix) {
    Map<String, Object> a;
    try {
      a = Files.readAttributes(p, "unix:mode,uid,gid");
    } catch (IOException e) {
      return "cannot read the attributes of " + p + " (" + e.getMessage() + ")";
    }
    int mode = (Integer) a.get("mode");
    int owner = (Integer) a.get("uid");
    int group = (Integer) a.get("gid");
    int bits = owner == uid ? (mode >> 6) & 7 : group == gid || groups.contains(group) ? (mode >> 3) & 7 : mode & 7;
    if ((bits & need) == need) {
      return null;
    }
    return p + " (mode " + String.format("%04o", mode & 07777) + ", owner uid " + owner + ", group gid " + group + ") does not "
        + verb + "; fix it with: " + fix;
  }
}
