package dev.vmlet.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/** Local callers by uid: names from /etc/passwd, the {@code vmlet} group from /etc/group. */
final class LocalUsers {
  static final String GROUP = "vmlet";
  private static final long SELF = selfUid();

  private LocalUsers() {}

  /** root and the daemon's user: admin; members of group vmlet: operator; others: a caller with no role. */
  static Access.Caller caller(int uid, int gid) {
    String name = "uid " + uid + nameOf(uid).map(n -> " (" + n + ")").orElse("");
    if (uid == 0 || uid == SELF) {
      return new Access.Caller(name, Role.ADMIN);
    }
    return new Access.Caller(name, inGroup(uid, gid) ? Role.OPERATOR : null);
  }

  /** The group's gid, or -1 when the host has no such group. */
  static int groupId() {
    for (String[] g : lines(Path.of("/etc/group"))) {
      if (g.length >= 3 && g[0].equals(GROUP)) {
        return Integer.parseInt(g[2]);
      }
    }
    return -1;
  }

  private static boolean inGroup(int uid, int gid) {
    for (String[] g : lines(Path.of("/etc/group"))) {
      if (g.length >= 3 && g[0].equals(GROUP)) {
        if (Integer.parseInt(g[2]) == gid) {
          return true;
        }
        String user = nameOf(uid).orElse(null);
        return user != null && g.length >= 4 && Arrays.asList(g[3].split(",")).contains(user);
      }
    }
    return false;
  }

  private static java.util.Optional<String> nameOf(int uid) {
    for (String[] p : lines(Path.of("/etc/passwd"))) {
      if (p.length >= 3 && p[2].equals(Integer.toString(uid))) {
        return java.util.Optional.of(p[0]);
      }
    }
    return java.util.Optional.empty();
  }

  private static List<String[]> lines(Path file) {
    try {
      return Files.readAllLines(file).stream().map(l -> l.split(":", -1)).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  private static long selfUid() {
    try {
      return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).longValue();
    } catch (IOException | UnsupportedOperationException e) {
      return 0;
    }
  }
}
