package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.qemu.QemuCommandBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestIdentityTest {
  @TempDir Path dir;

  @Test
  void render_isAlwaysTheFixedSize_withTheVmsIdentity() {
    String text = GuestIdentity.render("0f4c-id", "web1", new byte[] {1, (byte) 0xab});
    assertThat(text.getBytes(StandardCharsets.UTF_8)).hasSize(GuestIdentity.SIZE);
    assertThat(text).startsWith("instance_id=0f4c-id\nhostname=web1\nmac=" + QemuCommandBuilder.mac("0f4c-id") + "\nseed=01ab\n");
  }

  @Test
  void write_givesEveryStartAFreshSeed_readableByTheOwnerOnly() throws Exception {
    Path f = dir.resolve("identity");
    GuestIdentity.write(f, "id-1", "web1");
    String first = Files.readString(f);
    GuestIdentity.write(f, "id-1", "web1");
    assertThat(Files.readString(f)).isNotEqualTo(first).hasSize(GuestIdentity.SIZE);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
  }
}
