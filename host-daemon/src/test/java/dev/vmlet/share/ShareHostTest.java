package dev.vmlet.share;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.spec.Share;
import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShareHostTest {
  @TempDir Path dir;

  private Path binary() throws Exception {
    Path b = Files.writeString(dir.resolve("virtiofsd"), "#!/bin/sh\n");
    b.toFile().setExecutable(true);
    return b;
  }

  @Test
  void check_aMissingDirectory_isTheKindGivenAndNamesIt() throws Exception {
    List<Share> shares = List.of(new Share(dir.resolve("gone").toString(), "/mnt/x", false));
    assertThatThrownBy(() -> ShareHost.check(shares, binary(), true, VmException.Kind.INVALID_ARGUMENT))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind())
            .isEqualTo(VmException.Kind.INVALID_ARGUMENT))
        .hasMessage("shares: host directory " + dir.resolve("gone") + " does not exist; create it or give another");
  }

  @Test
  void check_aFile_isNotADirectory() throws Exception {
    Path f = Files.writeString(dir.resolve("f"), "x");
    assertThatThrownBy(() -> ShareHost.check(List.of(new Share(f.toString(), "/mnt/x", false)), binary(), true,
        VmException.Kind.FAILED_PRECONDITION)).hasMessageContaining("is not a directory");
  }

  @Test
  void check_withoutVirtiofsd_namesThePackage() {
    assertThatThrownBy(() -> ShareHost.check(List.of(new Share(dir.toString(), "/mnt/x", false)), dir.resolve("none"), true,
        VmException.Kind.INVALID_ARGUMENT)).hasMessageContaining("apt-get install qemu-system-common");
  }

  @Test
  void check_withoutRoot_saysWhy() {
    assertThatThrownBy(() -> ShareHost.check(List.of(new Share(dir.toString(), "/mnt/x", false)), binary(), false,
        VmException.Kind.INVALID_ARGUMENT)).hasMessageContaining("shares need the daemon to run as root");
  }

  @Test
  void check_noShares_needsNeitherVirtiofsdNorRoot() {
    assertThatCode(() -> ShareHost.check(List.of(), dir.resolve("none"), false, VmException.Kind.INVALID_ARGUMENT))
        .doesNotThrowAnyException();
  }
}
