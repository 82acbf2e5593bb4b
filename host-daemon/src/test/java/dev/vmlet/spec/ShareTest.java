package dev.vmlet.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ShareTest {
  @Test
  void share_normalisesATrailingSlash() {
    assertThat(new Share("/srv/w", "/mnt/work/", true).guestPath()).isEqualTo("/mnt/work");
  }

  @Test
  void share_refusesARelativeGuestPath() {
    assertThatThrownBy(() -> new Share("/srv/w", "mnt/work", false))
        .hasMessage("shares: guest path must be absolute (e.g. /mnt/work), got 'mnt/work'");
  }

  @Test
  void share_refusesARelativeHostPath() {
    assertThatThrownBy(() -> new Share("srv/w", "/mnt/work", false)).hasMessage("shares: host path must be absolute, got 'srv/w'");
  }

  @Test
  void share_refusesTheRootDotsAndCharactersThatWouldSplitTheMountList() {
    for (String bad : List.of("/", "/mnt/../etc", "/mnt/./x", "/mnt//x", "/mnt/a b", "/mnt/a:b", "/mnt/a,b")) {
      assertThatThrownBy(() -> new Share("/srv/w", bad, false)).as(bad).isInstanceOf(VmException.class)
          .hasMessageContaining("guest path '" + bad + "'");
    }
  }

  @Test
  void share_refusesACommaInTheHostPath() {
    assertThatThrownBy(() -> new Share("/srv/a,b", "/mnt/x", false)).hasMessageContaining("must not contain a comma");
  }

  @Test
  void vmConfig_refusesAGuestPathTwice() {
    var b = VmConfig.builder("a").shares(List.of(new Share("/srv/a", "/mnt/x", false), new Share("/srv/b", "/mnt/x/", true)));
    assertThatThrownBy(b::build).hasMessage("shares: the guest path /mnt/x is given twice; give each share its own");
  }

  @Test
  void vmConfig_refusesSharesOnMicrovm() {
    var b = VmConfig.builder("a").platform(new Platform("microvm", "bios")).shares(List.of(new Share("/srv/a", "/mnt/x", false)));
    assertThatThrownBy(b::build).hasMessageContaining("shares need machine q35");
  }

  @Test
  void vmConfig_refusesMoreThanEight() {
    List<Share> nine = IntStream.range(0, 9).mapToObj(i -> new Share("/srv/" + i, "/mnt/" + i, false)).toList();
    assertThatThrownBy(() -> VmConfig.builder("a").shares(nine).build()).hasMessage("shares: at most 8, got 9");
  }
}
