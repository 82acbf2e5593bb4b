package dev.vmlet.guest;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.function.Predicate;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * A clone's own SSH host keys. The clones of one template resume the template's disk, and with it
 * its {@code /etc/ssh/ssh_host_*} keys: every clone would answer with the template's identity and
 * could read the others' traffic. So once a clone has taken its new identity (after the proof, on a
 * thread of the agent's, off the one that reads the host's frames: RSA keys take seconds under TCG) the agent
 * makes new keys with {@code ssh-keygen -A} into a directory beside them, moves them over the old
 * ones and has sshd reload them. A guest without host keys (no sshd, the micro image) is left alone.
 * A reboot of a clone is a new instance to cloud-init, which makes its keys again.
 */
final class SshHostKeys {
  private static final Logger LOG = Logger.getLogger(SshHostKeys.class.getName());
  static final Path ETC_SSH = Path.of("/etc/ssh");
  private static final String PREFIX = "ssh_host_";

  private final Path etcSsh;
  private final Predicate<List<String>> run;

  /**
   * @param etcSsh the directory of the host keys
   * @param run runs a command, true when it exits 0
   */
  SshHostKeys(Path etcSsh, Predicate<List<String>> run) {
    this.etcSsh = etcSsh;
    this.run = run;
  }

  /** Renews the keys, when the guest has any, and logs how it went; never throws. */
  void renewIfAny() {
    if (!hasKeys()) {
      return;
    }
    long t0 = System.nanoTime();
    try {
      boolean reloaded = renew();
      LOG.info("SSH host keys of this clone made anew in " + (System.nanoTime() - t0) / 1_000_000 + " ms"
          + (reloaded ? ", sshd reloaded" : ", sshd not reloaded (not running?)"));
    } catch (IOException | RuntimeException e) {
      LOG.warning("cannot renew the SSH host keys: " + e.getMessage());
    }
  }

  boolean hasKeys() {
    try (Stream<Path> files = Files.list(etcSsh)) {
      return files.anyMatch(f -> f.getFileName().toString().startsWith(PREFIX) && f.getFileName().toString().endsWith("_key"));
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Makes new keys beside the old ones ({@code ssh-keygen -A -f DIR} writes {@code DIR/etc/ssh/}),
   * removes the old ones, moves the new ones in and reloads sshd.
   *
   * @return whether sshd was reloaded
   * @throws IOException when no new keys could be made; the old ones are then kept
   */
  boolean renew() throws IOException {
    Path work = etcSsh.resolve(".vmlet-new-host-keys");
    deleteTree(work);
    Path made = Files.createDirectories(work.resolve("etc/ssh"));
    try {
      if (!run.test(List.of("ssh-keygen", "-A", "-f", work.toString()))) {
        throw new IOException("ssh-keygen -A failed");
      }
      List<Path> fresh;
      try (Stream<Path> files = Files.list(made)) {
        fresh = files.filter(f -> f.getFileName().toString().startsWith(PREFIX)).toList();
      }
      if (fresh.isEmpty()) {
        throw new IOException("ssh-keygen -A made no keys in " + made);
      }
      try (Stream<Path> files = Files.list(etcSsh)) {
        for (Path old : files.filter(f -> f.getFileName().toString().startsWith(PREFIX)).toList()) {
          Files.delete(old); // a key type the new set lacks must not stay behind either
        }
      }
      for (Path f : fresh) {
        Files.move(f, etcSsh.resolve(f.getFileName()), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      }
    } finally {
      deleteTree(work);
    }
    // Debian names the unit ssh, other distributions sshd; try-: a stopped sshd stays stopped.
    return run.test(List.of("systemctl", "try-reload-or-restart", "ssh.service"))
        || run.test(List.of("systemctl", "try-reload-or-restart", "sshd.service"));
  }

  /** Runs a command of the renewal: a minute at most (RSA keys under TCG on a busy host take seconds). */
  static boolean run(List<String> argv) {
    return VmIdentity.run(argv, 60);
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
        Files.delete(p);
      }
    }
  }
}
