package dev.vmlet.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Registry references as vmlet image push/pull and launch --image oci:// take them. */
class OciReferenceTest {
  private static final String DIGEST = "sha256:" + "ab".repeat(32);

  @Test
  void parse_withTagAndScheme_splitsRegistryRepositoryAndTag() {
    OciReference r = OciReference.parse("oci://127.0.0.1:5000/vmlet/micro:v1.2");
    assertThat(r.registry()).isEqualTo("127.0.0.1:5000");
    assertThat(r.repository()).isEqualTo("vmlet/micro");
    assertThat(r.tag()).isEqualTo("v1.2");
    assertThat(r.reference()).isEqualTo("v1.2");
    assertThat(r.isLoopback()).isTrue();
    assertThat(r).hasToString("127.0.0.1:5000/vmlet/micro:v1.2");
  }

  @Test
  void parse_withDigest_keepsTheDigest() {
    OciReference r = OciReference.parse("registry.example.org/images/micro@" + DIGEST);
    assertThat(r.digest()).isEqualTo(DIGEST);
    assertThat(r.tag()).isNull();
    assertThat(r.isLoopback()).isFalse();
    assertThat(r.host()).isEqualTo("registry.example.org");
  }

  @Test
  void loopback_isLocalhostAnd127SlashEightAndIpv6One() {
    assertThat(OciReference.parse("localhost:5000/a:b").isLoopback()).isTrue();
    assertThat(OciReference.parse("127.9.8.7/a:b").isLoopback()).isTrue();
    assertThat(OciReference.parse("[::1]:5000/a:b").isLoopback()).isTrue();
    assertThat(OciReference.parse("10.0.0.1:5000/a:b").isLoopback()).isFalse();
  }

  @Test
  void parse_badInput_saysWhatIsWrong() {
    assertThatThrownBy(() -> OciReference.parse("micro:latest")).hasMessageContaining("names no registry");
    assertThatThrownBy(() -> OciReference.parse("127.0.0.1:5000/vmlet/micro")).hasMessageContaining("has no tag");
    assertThatThrownBy(() -> OciReference.parse("127.0.0.1:5000/Vmlet/micro:1")).hasMessageContaining("is not a repository name");
    assertThatThrownBy(() -> OciReference.parse("127.0.0.1:5000/vmlet/../micro:1")).hasMessageContaining("is not a repository name");
    assertThatThrownBy(() -> OciReference.parse("127.0.0.1:5000/vmlet/micro:.bad")).hasMessageContaining("is not a tag");
    assertThatThrownBy(() -> OciReference.parse("127.0.0.1:5000/vmlet/micro@sha256:12")).hasMessageContaining("is not a digest");
  }

  @Test
  void vmConfig_acceptsAnOciImage_andRefusesABadOne() {
    assertThat(VmConfig.builder("vm1").image("oci://127.0.0.1:5000/vmlet/micro:1").build().image())
        .isEqualTo("oci://127.0.0.1:5000/vmlet/micro:1");
    assertThatThrownBy(() -> VmConfig.builder("vm1").image("oci://127.0.0.1:5000/vmlet/micro").build())
        .isInstanceOf(VmException.class).hasMessageContaining("has no tag");
  }
}
