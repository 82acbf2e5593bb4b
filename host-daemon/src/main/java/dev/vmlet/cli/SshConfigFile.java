package dev.vmlet.cli;

import dev.vmlet.proto.v1.Vm;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The SSH client include file of {@code vmlet ssh-config}: one {@code Host NAME.vmlet} per VM that
 * has SSH now (a cloud image with its port forwarded), so {@code ssh NAME.vmlet}, scp, rsync and
 * editors' remote modes work. Pure rendering plus an atomic write.
 *
 * <p>Host keys: a guest makes its keys at its first boot, so nothing can be pinned in advance. Each
 * VM's key is remembered under the VM's instance id ({@code HostKeyAlias}) in a known-hosts file of
 * vmlet's own, accepted on first use: a new VM of the same name is a new instance (no "host
 * identification has changed" warning), and a different key on the same VM's port later is refused.
 */
final class SshConfigFile {
  static final String SUFFIX = ".vmlet";
  private static final Pattern INCLUDE = Pattern.compile("(?im)^\\s*Include\\s+.*\\bconfig\\.d/(vmlet|\\*)(\\s|$)");

  private SshConfigFile() {}

  /** Whether the VM has SSH that vmlet set up and that is reachable now. */
  static boolean hasSsh(Vm v) {
    return !v.getSshUser().isEmpty() && v.getSshPort() != 0 && !v.getSshHost().isEmpty();
  }

  /**
   * @param readable whether this user can read a VM's private key; when not (a root daemon's state
   *     directory), the entry leaves the key choice to ssh: the --ssh-key and ssh-agent keys the VM authorized
   */
  static String render(List<Vm> vms, Path knownHosts, Predicate<String> readable) {
    StringBuilder sb = new StringBuilder();
    sb.append("# Written by `vmlet ssh-config`: one Host per VM with SSH. Rewritten whole each time;\n")
        .append("# `vmlet ssh-config --watch` keeps it current. Edits here are lost.\n");
    for (Vm v : vms.stream().filter(SshConfigFile::hasSsh).sorted(Comparator.comparing(x -> x.getSpec().getName())).toList()) {
      sb.append('\n').append("Host ").append(v.getSpec().getName()).append(SUFFIX).append('\n')
          .append("  HostName ").append(v.getSshHost()).append('\n')
          .append("  Port ").append(v.getSshPort()).append('\n')
          .append("  User ").append(v.getSshUser()).append('\n');
      if (readable.test(v.getSshIdentityFile())) {
        sb.append("  IdentityFile ").append(quote(v.getSshIdentityFile())).append('\n')
            .append("  IdentitiesOnly yes\n");
      } else {
        sb.append("  # ").append(v.getSshIdentityFile()).append(" is not readable by you: your own authorized keys are used\n");
      }
      sb.append("  HostKeyAlias ").append(v.getInstanceId()).append(SUFFIX).append('\n')
          .append("  UserKnownHostsFile ").append(quote(knownHosts.toString())).append('\n')
          .append("  StrictHostKeyChecking accept-new\n")
          // Debian's /etc/ssh/ssh_config hashes known hosts; vmlet's file stays readable (its names are no secret).
          .append("  HashKnownHosts no\n");
    }
    return sb.toString();
  }

  private static String quote(String path) {
    return path.contains(" ") ? "\"" + path + "\"" : path;
  }

  /** Replaces {@code file} with {@code content} (0600, like the rest of ~/.ssh), never leaving half a file. */
  static void write(Path file, String content) throws IOException {
    Files.createDirectories(file.getParent());
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.writeString(tmp, content, StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * The line to add to {@code userConfig} so that ssh reads {@code file}, or empty when it already
   * includes it (or all of config.d). Include must come before the first Host: ssh applies what
   * follows a Host line to that host only.
   */
  static Optional<String> missingInclude(Path userConfig, Path file, Path home) throws IOException {
    String text = Files.isRegularFile(userConfig) ? Files.readString(userConfig) : "";
    if (INCLUDE.matcher(text).find() && file.getParent().equals(home.resolve(".ssh/config.d"))) {
      return Optional.empty();
    }
    if (text.contains(file.toString()) || text.contains("~/" + home.relativize(file))) {
      return Optional.empty();
    }
    String shown = file.startsWith(home) ? "~/" + home.relativize(file) : file.toString();
    return Optional.of("Include " + shown);
  }
}
