package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.spec.Share;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ShareOptionTest {
  @Test
  void parseShare_readWriteByDefault_roAndRwSuffixes() {
    assertThat(VmSpecOptions.parseShare("/srv/w:/mnt/w")).isEqualTo(new Share("/srv/w", "/mnt/w", false));
    assertThat(VmSpecOptions.parseShare("/srv/w:/mnt/w:ro")).isEqualTo(new Share("/srv/w", "/mnt/w", true));
    assertThat(VmSpecOptions.parseShare("/srv/w:/mnt/w:rw")).isEqualTo(new Share("/srv/w", "/mnt/w", false));
  }

  @Test
  void parseShare_9pOrVirtiofsSuffix_inEitherOrderWithTheMode() {
    assertThat(VmSpecOptions.parseShare("/srv/w:/mnt/w:9p")).isEqualTo(new Share("/srv/w", "/mnt/w", false, "9p"));
    assertThat(VmSpecOptions.parseShare("/srv/w:/mnt/w:ro:9p")).isEqualTo(new Share("/srv/w", "/mnt/w", true, "9p"));
    assertThat(VmSpecOptions.parseShare("/srv/w:/mnt/w:9p:ro")).isEqualTo(new Share("/srv/w", "/mnt/w", true, "9p"));
    assertThat(VmSpecOptions.parseShare("/srv/w:/mnt/w:virtiofs")).isEqualTo(new Share("/srv/w", "/mnt/w", false));
  }

  @Test
  void parseShare_makesARelativeHostDirectoryAbsolute() {
    assertThat(VmSpecOptions.parseShare("work:/mnt/w").hostPath())
        .isEqualTo(Path.of("work").toAbsolutePath().normalize().toString());
  }

  @Test
  void parseShare_badInput_saysWhatWasExpected() {
    assertThatThrownBy(() -> VmSpecOptions.parseShare("/srv/w")).isInstanceOf(CliException.class)
        .hasMessage("--share /srv/w: expected HOST_DIR:GUEST_PATH, then optionally :ro and :9p");
    assertThatThrownBy(() -> VmSpecOptions.parseShare("/srv/w:/mnt/w:rx"))
        .hasMessage("--share /srv/w:/mnt/w:rx: after GUEST_PATH give at most one of ro or rw and one of virtiofs or 9p, got 'rx'");
    assertThatThrownBy(() -> VmSpecOptions.parseShare("/srv/w:/mnt/w:ro:rw"))
        .hasMessage("--share /srv/w:/mnt/w:ro:rw: after GUEST_PATH give at most one of ro or rw and one of virtiofs or 9p, got 'rw'");
    assertThatThrownBy(() -> VmSpecOptions.parseShare("/srv/w:/mnt/w:9p:virtiofs"))
        .hasMessage("--share /srv/w:/mnt/w:9p:virtiofs: after GUEST_PATH give at most one of ro or rw and one of virtiofs or 9p,"
            + " got 'virtiofs'");
    assertThatThrownBy(() -> VmSpecOptions.parseShare("/srv/w:mnt/w"))
        .hasMessage("--share /srv/w:mnt/w: shares: guest path must be absolute (e.g. /mnt/work), got 'mnt/w'");
  }
}
