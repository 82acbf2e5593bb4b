package dev.vmlet.security;

import com.google.protobuf.Message;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.net.TapDevices;
import dev.vmlet.spec.OciReference;
import dev.vmlet.security.HostPathFields.Named;
import dev.vmlet.security.HostPathFields.Rule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.nio.file.InvalidPathException;

/**
 * The one place that decides whether a caller may name something on the daemon's host in a
 * request ({@link HostPathFields} says which fields do). The daemon never opens such a path with
 * its own rights on a caller's word:
 *
 * <ul>
 *   <li>admin (root or the daemon's user on the unix socket, an admin certificate): any path;
 *   <li>a local operator (unix socket): a file only when the kernel lets that uid read it, checked
 *       by a process running as the uid ({@link HostFiles}); a disk image's backing chain likewise,
 *       file by file, and only raw or qcow2 files without an external data file; a TAP device only
 *       when it owns it; no host devices;
 *   <li>a remote caller (TCP, mutual TLS; no account here): no host path unless it lies, after
 *       resolving symbolic links, under a directory the node's admin allowed ({@code vmlet daemon
 *       --allow-path DIR}), backing chain included; no TAP devices, no host devices.
 * </ul>
 *
 * <p>An allowed request goes on with every path replaced by its resolved real path, so that the
 * daemon later opens what was checked, not whatever a symbolic link points to by then. What remains
 * is a race with the file's owner: a directory on the way, or the image's own header, that the
 * caller can write may be changed between this check and QEMU opening the file (docs/api.md).
 *
 * <p>One class, over 300 lines, on purpose: every rule (files, backing chains, TAP devices, the
 * remote allow-list) is decided for the same caller through the same refusal, and a security
 * reviewer reads the whole decision in one file, top to bottom.
 */
public final class HostPaths {
  /** The deepest backing chain a non-admin's image may have. */
  static final int MAX_CHAIN = 16;

  private final List<Path> allowed;
  private final List<Path> allowedReal;
  private final HostFiles files;
  private final TapDevices taps;

  /**
   * @param allowPaths directories under which remote callers may name files; each must exist
   * @param files how files look to a local user
   * @param sysRoot "/" on a real host (TAP owners under sys/class/net), a fake tree in tests
   * @throws IllegalArgumentException naming a directory that is not an absolute, existing directory
   */
  HostPaths(List<Path> allowPaths, HostFiles files, Path sysRoot) {
    this.allowed = allowPaths.stream().map(Path::normalize).toList();
    this.allowedReal = realDirs(allowPaths);
    this.files = files;
    this.taps = new TapDevices(sysRoot);
  }

  /**
   * The directories as real paths.
   *
   * @throws IllegalArgumentException naming one that is not an absolute path of an existing directory
   */
  public static List<Path> realDirs(List<Path> dirs) {
    List<Path> real = new ArrayList<>();
    for (Path p : dirs) {
      try {
        if (!p.isAbsolute() || !Files.isDirectory(p)) {
          throw new IOException("not an absolute path of an existing directory");
        }
        real.add(p.toRealPath());
      } catch (IOException e) {
        throw new IllegalArgumentException("--allow-path " + p + ": " + e.getMessage(), e);
      }
    }
    return List.copyOf(real);
  }

  /** The real host: files checked with setpriv, qemu-img the VMs' own. */
  public static HostPaths forHost(List<Path> allowPaths, String qemuImg) {
    return new HostPaths(allowPaths, new UserFiles(qemuImg), Path.of("/"));
  }

  /** No directory allowed for remote callers; qemu-img from PATH. */
  public static HostPaths strict() {
    return forHost(List.of(), "qemu-img");
  }

  /** The directories remote callers may name files under, as the admin gave them. */
  public List<Path> allowed() {
    return allowed;
  }

  /** A request as it may go on, and what it named on the host (for the audit line). */
  record Decision(Object request, List<Named> named) {}

  /**
   * Decides every host-bearing field of a request for its caller.
   *
   * @return the request with each path replaced by its real path, and what it named
   * @throws HostPathException on the first field the caller may not name, saying why and what instead
   */
  Decision decide(Access.Caller caller, Object request) {
    if (!(request instanceof Message m) || !HostPathFields.classified(m)) {
      return new Decision(request, List.of());
    }
    List<Named> asSent = HostPathFields.named(m);
    if (asSent.isEmpty()) {
      return new Decision(request, List.of()); // the common case: nothing to resolve
    }
    List<Named> decided = new ArrayList<>();
    Message approved = HostPathFields.map(m, "", (where, rule, value) -> {
      try {
        String resolved = decide(caller, where, rule, value);
        if (rule != Rule.IMAGE_OR_NAME || isHostPath(value)) {
          decided.add(new Named(where, value, resolved));
        }
        return resolved;
      } catch (Refused r) {
        throw new HostPathException(r.kind, r.getMessage(), asSent);
      }
    });
    return new Decision(approved, decided);
  }

  /**
   * Decides a request again for a caller who is not on the line: a VM's owner before each start.
   *
   * @throws HostPathException as {@link #decide}
   */
  public void check(Access.Caller caller, Object request) {
    decide(caller, request);
  }

  private String decide(Access.Caller caller, String where, Rule rule, String value) throws Refused {
    if (rule == null) {
      throw new Refused(HostPathException.Kind.UNCLASSIFIED, where + ": this daemon does not know whether the field names a"
          + " host path, so it refuses the request (a bug: the field is missing from HostPathFields)");
    }
    return switch (rule) {
      case IMAGE_OR_NAME -> isHostPath(value) ? file(caller, where, value, true) : value;
      case DISK_IMAGE -> file(caller, where, value, true);
      case HOST_FILE -> file(caller, where, value, false);
      case TAP_DEVICE -> tap(caller, where, value);
      case SHARED_DIR -> sharedDir(caller, where, value);
      case HOST_DEVICE -> {
        if (!caller.isAdmin()) {
          throw denied(where + " " + value + ": handing a host device over needs the admin role; " + caller.name() + " is "
              + caller.role().label());
        }
        yield value;
      }
      default -> value;
    };
  }

  /** A host file the caller names; a disk image's backing chain too. Returns its real path. */
  private String file(Access.Caller caller, String where, String value, boolean image) throws Refused {
    Path p = pathOf(value);
    if (p == null || !p.isAbsolute()) {
      throw new Refused(HostPathException.Kind.INVALID, where + " must be an absolute path, got '" + value + "'");
    }
    String subject = where + " " + value;
    if (caller.isAdmin()) {
      try {
        return p.toRealPath().toString();
      } catch (IOException e) {
        return value; // what is missing is reported where the daemon needs it, in the caller's terms
      }
    }
    Path real;
    if (caller.local() != null) {
      // As the caller first: the daemon's own look (toRealPath) would tell whether a file it cannot read exists.
      readable(caller, subject, p);
      real = realPath(subject, p);
      if (!real.equals(p)) {
        readable(caller, subject, real); // a link swapped between the two looks must not lead elsewhere
      }
    } else {
      real = allowedReal(caller, subject, p);
    }
    if (image) {
      chain(caller, subject, real);
    }
    return real.toString();
  }

  private void readable(Access.Caller caller, String subject, Path p) throws Refused {
    String why = files.cannotRead(caller.local(), p);
    if (why != null) {
      throw denied(subject + ": " + caller.name() + " " + why + "; use a file you can read, or an image by name"
          + " (vmlet image list), or ask the node's admin");
    }
  }

  /** A remote caller's file: under an allowed directory as given, before anything is looked at, and once resolved. */
  private Path allowedReal(Access.Caller caller, String subject, Path p) throws Refused {
    if (!under(p.normalize(), allowed) && !under(p.normalize(), allowedReal)) {
      throw denied(subject + ": " + remoteRule(caller));
    }
    Path real = realPath(subject, p);
    if (!under(real, allowedReal)) {
      throw denied(subject + ": it resolves to " + real + ", outside; " + remoteRule(caller));
    }
    return real;
  }

  private String remoteRule(Access.Caller caller) {
    return "host paths from remote callers (" + caller.name() + " is " + caller.role().label() + ") are refused unless under"
        + " a directory the node allows (vmlet daemon --allow-path DIR; this node allows "
        + (allowed.isEmpty() ? "none" : allowed.stream().map(Path::toString).reduce((a, b) -> a + ", " + b).orElseThrow())
        + "); use an image by name (micro, debian), or ask the node's admin";
  }

  /** Whether an image field names a host file: it holds a '/' and is not an {@code oci://} reference. */
  static boolean isHostPath(String image) {
    return image.contains("/") && !OciReference.isOci(image);
  }

  private static boolean under(Path p, List<Path> dirs) {
    return dirs.stream().anyMatch(p::startsWith);
  }

  private static Path realPath(String subject, Path p) throws Refused {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      throw new Refused(HostPathException.Kind.INVALID, subject + " does not exist or cannot be resolved: " + e.getMessage());
    }
  }

  /**
   * Every file QEMU opens for an image, one at a time and each checked before it is read: qemu-img
   * reads a file without opening its backing file, which is then held to the same rule.
   */
  private void chain(Access.Caller caller, String subject, Path top) throws Refused {
    Access.Local as = caller.local(); // null: remote; qemu-img then runs as the daemon, on allowed files only
    Path file = top;
    for (int depth = 0; file != null; depth++) {
      String which = depth == 0 ? subject : subject + ": its backing file " + file;
      if (depth == MAX_CHAIN) {
        throw denied(subject + ": its backing chain is longer than " + MAX_CHAIN + " files");
      }
      if (depth > 0 && as == null) {
        file = allowedReal(caller, which, file);
      }
      QemuImg.Layer layer;
      try {
        layer = files.layer(as, file);
      } catch (IOException e) {
        throw denied(which + ": " + caller.name() + " cannot read it as an image: " + e.getMessage());
      }
      if (!layer.format().equals("raw") && !layer.format().equals("qcow2")) {
        throw denied(which + ": its format is " + layer.format() + "; images from non-admin callers must be raw or qcow2"
            + " (qemu-img convert -O qcow2 makes one)");
      }
      if (layer.dataFile() != null) {
        throw denied(which + ": it has an external data file (" + layer.dataFile() + "), which images from non-admin"
            + " callers may not have (qemu-img convert -O qcow2 makes one without)");
      }
      String next = layer.backingFile();
      if (next != null && !next.startsWith("/")) {
        throw denied(which + ": its backing file '" + next + "' is not a plain file, which images from non-admin callers"
            + " may not have");
      }
      file = next == null ? null : pathOf(next);
      if (next != null && file == null) {
        throw denied(which + ": its backing file '" + next + "' is not a usable path");
      }
    }
  }

  /**
   * A directory shared into a VM. virtiofsd runs as root, so the guest reaches everything under it
   * with root's rights: a local user may share only a directory it owns (readable by it is not
   * enough, it would open the files inside that it cannot read); remote callers as for files.
   */
  /**
   * A directory shared into a VM: the admin role only. virtiofsd runs as root and passes the
   * guest's ids through, so the guest's root can leave a set-uid root program in the directory;
   * for any caller who is not already root on the host (a local operator who owns the directory, a
   * remote operator under --allow-path) that is a way to become root.
   */
  private String sharedDir(Access.Caller caller, String where, String value) throws Refused {
    if (!caller.isAdmin()) {
      throw denied(where + " " + value + ": sharing a host directory needs the admin role, because virtiofsd serves it as root"
          + " and the guest's root could leave a set-uid root program in it; " + caller.name() + " is " + caller.role().label()
          + "; ask the node's admin, or copy files with vmlet cp");
    }
    return file(caller, where, value, false);
  }

  /** Null for a value no file can have (a NUL byte). */
  private static Path pathOf(String value) {
    try {
      return Path.of(value);
    } catch (InvalidPathException e) {
      return null;
    }
  }

  /**
   * A TAP device: a local operator's own (its owner is the caller, or it has no owner and its group
   * is one of the caller's); the kernel would let an unowned, ungrouped one to anybody, but that is
   * the admin's network, not the caller's.
   */
  private String tap(Access.Caller caller, String where, String tap) throws Refused {
    if (caller.isAdmin()) {
      return tap;
    }
    if (tap.contains("/") || tap.equals(".") || tap.equals("..")) {
      throw new Refused(HostPathException.Kind.INVALID, where + " '" + tap + "' is not an interface name");
    }
    if (caller.local() == null) {
      throw denied(where + " " + tap + ": a TAP device may be named over TCP by the admin role only; " + caller.name() + " is "
          + caller.role().label() + "; use user-mode networking (no tap), or ask the node's admin");
    }
    TapDevices.Ownership o = taps.ownership(tap);
    long owner = o.owner();
    long group = o.group();
    Set<Integer> groups = files.groups(caller.local());
    boolean ownerOk = owner == caller.local().uid() || (owner == -1 && group != -1);
    boolean groupOk = group == -1 || groups.contains((int) group);
    if (!ownerOk || !groupOk) {
      throw denied(where + " " + tap + ": " + caller.name() + " may use only a TAP device of its own (this one's owner: "
          + (owner == -1 ? "none" : "uid " + owner) + ", group: " + (group == -1 ? "none" : "gid " + group)
          + "); make one with: ip tuntap add dev " + tap + " mode tap user " + caller.local().uid() + ", or ask the node's admin");
    }
    return tap;
  }

  private static Refused denied(String message) {
    return new Refused(HostPathException.Kind.DENIED, message);
  }

  /** A refusal inside the walk; becomes a {@link HostPathException} with everything the request named. */
  private static final class Refused extends Exception {
    final HostPathException.Kind kind;

    Refused(HostPathException.Kind kind, String message) {
      super(message, null, false, false);
      this.kind = kind;
    }
  }
}
