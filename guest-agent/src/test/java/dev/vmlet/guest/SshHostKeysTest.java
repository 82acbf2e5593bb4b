package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The renewal's file moves with a stand-in for ssh-keygen and systemctl; DebianTemplateIT runs the real ones in clones. */
class SshHostKeysTest {
  @TempDir Path etc;
  private final List<List<String>> ran = new ArrayList<>();

  /** Writes an ed25519 key pair where {@code ssh-keygen -A -f DIR} would, and accepts the reload. */
  private boolean keygen(List<String> argv) {
    ran.add(argv);
    if (argv.get(0).equals("ssh-keygen")) {
      try {
        Path to = Path.of(argv.get(3)).resolve("etc/ssh");
        Files.writeString(to.resolve("ssh_host_ed25519_key"), "new private");
        Files.writeString(to.resolve("ssh_host_ed25519_key.pub"), "new public");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return true;
  }

  @Test
  void renew_replacesEveryOldKey_withTheNewSet_andReloadsSshd() throws Exception {
    Files.writeString(etc.resolve("ssh_host_ed25519_key"), "old private");
    Files.writeString(etc.resolve("ssh_host_rsa_key"), "old rsa");
    Files.writeString(etc.resolve("sshd_config"), "kept");
    SshHostKeys keys = new SshHostKeys(etc, this::keygen);
    assertThat(keys.hasKeys()).isTrue();
    assertThat(keys.renew()).isTrue();
    assertThat(Files.readString(etc.resolve("ssh_host_ed25519_key"))).isEqualTo("new private");
    assertThat(Files.readString(etc.resolve("ssh_host_ed25519_key.pub"))).isEqualTo("new public");
    assertThat(etc.resolve("ssh_host_rsa_key")).as("an old key of a type not made again").doesNotExist();
    assertThat(etc.resolve("sshd_config")).hasContent("kept");
    try (var left = Files.list(etc)) {
      assertThat(left.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("ssh_host_ed25519_key",
          "ssh_host_ed25519_key.pub", "sshd_config");
    }
    assertThat(ran.get(1)).containsExactly("systemctl", "try-reload-or-restart", "ssh.service");
  }

  @Test
  void renew_whenSshKeygenFails_keepsTheOldKeys_andLeavesNothingBehind() throws Exception {
    Files.writeString(etc.resolve("ssh_host_ed25519_key"), "old private");
    SshHostKeys keys = new SshHostKeys(etc, argv -> false);
    assertThatThrownBy(keys::renew).isInstanceOf(IOException.class).hasMessageContaining("ssh-keygen -A failed");
    assertThat(etc.resolve("ssh_host_ed25519_key")).hasContent("old private");
    try (var left = Files.list(etc)) {
      assertThat(left).hasSize(1);
    }
  }

  @Test
  void aGuestWithoutHostKeys_isLeftAlone() {
    SshHostKeys keys = new SshHostKeys(etc.resolve("no-ssh"), this::keygen);
    assertThat(keys.hasKeys()).isFalse();
    keys.renewIfAny();
    assertThat(ran).isEmpty();
  }
}
