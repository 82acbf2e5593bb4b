package dev.vmlet.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * What the host may ask of this agent, from {@code /etc/vmlet/agent.conf}:
 *
 * <pre>
 * # operations the host may use: exec, file-read, file-write, info, power
 * allow = exec, file-read, info
 * # path prefixes for file-read and file-write (absent: any path)
 * paths = /tmp, /home/vmlet
 * </pre>
 *
 * Without the file everything is allowed. A file that cannot be parsed denies everything, and each
 * denial says why. Paths are compared component by component after resolving symbolic links, so
 * {@code /tmp} allows neither {@code /tmpx} nor a link in /tmp that points outside it.
 */
final class Policy {
  enum Operation {
    EXEC("exec"), FILE_READ("file-read"), FILE_WRITE("file-write"), INFO("info"), POWER("power");

    final String word;

    Operation(String word) {
      this.word = word;
    }

    static Optional<Operation> of(String word) {
      for (Operation o : values()) {
        if (o.word.equals(word)) {
          return Optional.of(o);
        }
      }
      return Optional.empty();
    }
  }

  private final String source;
  private final Set<Operation> allowed;
  private final String allowRule;
  private final List<Path> paths; // null: any path
  private final String pathsRule;
  private final String error;

  private Policy(String source, Set<Operation> allowed, String allowRule, List<Path> paths, String pathsRule, String error) {
    this.source = source;
    this.allowed = allowed;
    this.allowRule = allowRule;
    this.paths = paths;
    this.pathsRule = pathsRule;
    this.error = error;
  }

  static Policy allowAll() {
    return new Policy("no policy file", EnumSet.allOf(Operation.class), null, null, null, null);
  }

  /** Reads the policy file; a missing file allows everything. */
  static Policy load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      return allowAll();
    } catch (IOException e) {
      return denyAll(file.toString(), "cannot read it: " + e.getMessage());
    }
    return parse(file.toString(), text);
  }

  static Policy parse(String source, String text) {
    Set<Operation> allowed = EnumSet.allOf(Operation.class);
    String allowRule = null;
    List<Path> paths = null;
    String pathsRule = null;
    int n = 0;
    for (String raw : text.split("\n", -1)) {
      n++;
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int eq = line.indexOf('=');
      if (eq < 0) {
        return denyAll(source, "line " + n + " is not 'key = value': " + line);
      }
      String key = line.substring(0, eq).strip().toLowerCase(Locale.ROOT);
      List<String> values = new ArrayList<>();
      for (String v : line.substring(eq + 1).split(",")) {
        if (!v.isBlank()) {
          values.add(v.strip());
        }
      }
      String rule = source + " line " + n + " (" + line + ")";
      switch (key) {
        case "allow" -> {
          allowed = EnumSet.noneOf(Operation.class);
          for (String v : values) {
            Optional<Operation> op = Operation.of(v.toLowerCase(Locale.ROOT));
            if (op.isEmpty()) {
              return denyAll(source, "line " + n + ": unknown operation '" + v + "' (known: exec, file-read, file-write, info, power)");
            }
            allowed.add(op.get());
          }
          allowRule = rule;
        }
        case "paths" -> {
          paths = new ArrayList<>();
          for (String v : values) {
            Path p = Path.of(v);
            if (!p.isAbsolute()) {
              return denyAll(source, "line " + n + ": path prefix '" + v + "' is not absolute");
            }
            paths.add(real(p.normalize()));
          }
          pathsRule = rule;
        }
        default -> {
          return denyAll(source, "line " + n + ": unknown key '" + key + "' (known: allow, paths)");
        }
      }
    }
    return new Policy(source, allowed, allowRule, paths, pathsRule, null);
  }

  private static Policy denyAll(String source, String error) {
    return new Policy(source, EnumSet.noneOf(Operation.class), null, List.of(), null, source + " has an error, so everything is denied: "
        + error);
  }

  /** Why {@code op} is denied, or empty when it is allowed. */
  Optional<String> check(Operation op) {
    if (error != null) {
      return Optional.of(error);
    }
    if (!allowed.contains(op)) {
      return Optional.of(op.word + " is not allowed by " + allowRule);
    }
    return Optional.empty();
  }

  /** Why {@code op} on {@code path} (absolute, normalised) is denied, or empty when it is allowed. */
  Optional<String> check(Operation op, Path path) {
    Optional<String> denied = check(op);
    if (denied.isPresent() || paths == null) {
      return denied;
    }
    Path real = real(path);
    for (Path prefix : paths) {
      if (real.startsWith(prefix)) {
        return Optional.empty();
      }
    }
    return Optional.of(op.word + " of " + path + (real.equals(path) ? "" : " (really " + real + ")") + " is outside the paths allowed by "
        + pathsRule);
  }

  /** The path with symbolic links resolved as far as it exists, the rest appended. */
  static Path real(Path path) {
    Path existing = path;
    Path rest = null;
    while (existing != null && !Files.exists(existing)) {
      Path name = existing.getFileName();
      rest = rest == null ? name : name.resolve(rest);
      existing = existing.getParent();
    }
    if (existing == null) {
      return path;
    }
    try {
      Path r = existing.toRealPath();
      return rest == null ? r : r.resolve(rest).normalize();
    } catch (IOException e) {
      return path;
    }
  }

  @Override
  public String toString() {
    return error != null ? error : source;
  }
}
