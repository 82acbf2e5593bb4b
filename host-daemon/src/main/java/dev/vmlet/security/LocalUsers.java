package dev.vmlet.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** Local callers by uid: names from /etc/passwd, the {@code vmlet} group from /etc/group. */
final class LocalUsers {
  static final String GROUP = "vmlet";
  private static final Access.Local SELF = selfIds();

  private LocalUsers() {}

  /** root and the daemon's user: admin; members of group vmlet: operator; others: a caller with no role. */
  static Access.Caller caller(int uid, int gid) {
    String name = "uid " + uid + nameOf(uid).map(n -> " (" + n + ")").orElse("");
    Access.Local local = new Access.Local(uid, gid);
    if (uid == 0 || uid == SELF.uid()) {
      return new Access.Caller(name, Role.ADMIN, local);
    }
    return new Access.Caller(name, inGroup(uid, gid) ? Role.OPERATOR : null, local);
  }

  /** The daemon's own uid and gid. */
  static Access.Local self() {
    return SELF;
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

  /** The gid and the groups /etc/group lists the user in: what a login of that user would hold. */
  static Set<Integer> groupsOf(int uid, int gid) {
    Set<Integer> out = new LinkedHashSet<>(List.of(gid));
    String user = nameOf(uid).orElse(null);
    for (String[] g : lines(Path.of("/etc/group"))) {
      if (user != null && g.length >= 4 && Arrays.asList(g[3].split(",")).contains(user)) {
        out.add(Integer.parseInt(g[2]));
      }
    }
    return out;
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

  static Optional<String> nameOf(int uid) {
    for (String[] p : lines(Path.of("/etc/passwd"))) {
      if (p.length >= 3 && p[2].equals(Integer.toString(uid))) {
        return Optional.of(p[0]);
      }
    }
    return Optional.empty();
  }

  private static List<String[]> lines(Path file) {
    try {
      return Files.readAllLines(file).stream().map(l -> l.split(":", -1)).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  private static Access.Local selfIds() {
    try {
      return new Access.Local(((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue(),
          ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:gid")).intValue());
    } catch (IOException | UnsupportedOperationException e) {
      return new Access.Local(0, 0);
    }
  }
}
