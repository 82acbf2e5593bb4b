package dev.vmlet.spec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class GuestSettingsTest {
  private static Credential text(String name, String value) {
    return new Credential(name, value.getBytes(StandardCharsets.UTF_8));
  }

  private static VmConfig.Builder vm() {
    return VmConfig.builder("a");
  }

  @Test
  void oemStrings_textAsIs_binaryAsBase64_thenTheProxy() {
    byte[] binary = {0, 1, (byte) 0xfe, '\n'};
    VmConfig c = vm().credentials(List.of(text("db.password", "s3cr=t x"), new Credential("blob", binary)))
        .httpProxy("http://10.0.2.2:3128").build();
    assertThat(GuestSettings.oemStrings(c)).containsExactly("io.systemd.credential:db.password=s3cr=t x",
        "io.systemd.credential.binary:blob=" + Base64.getEncoder().encodeToString(binary), "vmlet.http_proxy=http://10.0.2.2:3128");
  }

  @Test
  void credentials_badNamesTwiceTooManyTooBig_areRefusedSayingWhatIsAllowed() {
    assertThatThrownBy(() -> text("a/b", "x")).hasMessageContaining("name 'a/b' is not allowed: 1 to 64 letters, digits and . _ - @ +");
    assertThatThrownBy(() -> text("a:b", "x")).hasMessageContaining("not allowed");
    assertThatThrownBy(() -> text("..", "x")).hasMessageContaining("not allowed");
    assertThatThrownBy(() -> text("", "x")).hasMessageContaining("not allowed");
    assertThatThrownBy(() -> new Credential("big", new byte[Credential.MAX_VALUE + 1]))
        .hasMessageContaining("'big' is 16385 bytes; at most 16384");
    assertThatThrownBy(() -> vm().credentials(List.of(text("x", "1"), text("x", "2"))).build())
        .hasMessageContaining("the name 'x' is given twice");
    List<Credential> many = new ArrayList<>();
    for (int i = 0; i <= Credential.MAX_COUNT; i++) {
      many.add(text("c" + i, "v"));
    }
    assertThatThrownBy(() -> vm().credentials(many).build()).hasMessageContaining("at most 32, got 33");
    // Binary values grow by a third: three of 12 KiB pass one by one but not together.
    List<Credential> big = List.of(new Credential("b1", new byte[12_000]), new Credential("b2", new byte[12_000]),
        new Credential("b3", new byte[12_000]));
    assertThatThrownBy(() -> vm().credentials(big).build()).hasMessageContaining("bytes in all once encoded");
    assertThatThrownBy(() -> vm().credentials(List.of(text("x", "1"))).platform(new Platform("microvm", "bios", "virtio")).build())
        .hasMessageContaining("machine microvm does not have: use machine q35");
  }

  @Test
  void credential_toString_neverShowsTheValue() {
    assertThat(text("db.password", "hunter2").toString()).doesNotContain("hunter2").contains("db.password");
    assertThat(vm().credentials(List.of(text("db.password", "hunter2"))).build().toString()).doesNotContain("hunter2");
  }

  @Test
  void httpProxy_mustBeAnHttpUrlWithAHost() {
    assertThat(vm().httpProxy("https://user:pw@proxy.example:8443").build().httpProxy()).isEqualTo("https://user:pw@proxy.example:8443");
    assertThatThrownBy(() -> vm().httpProxy("proxy:3128").build()).hasMessageContaining("must be http:// or https:// with a host");
    assertThatThrownBy(() -> vm().httpProxy("socks5://user:pw@h:1").build())
        .hasMessageContaining("'socks5://***@h:1' must be http:// or https://").hasMessageNotContaining("pw");
    assertThatThrownBy(() -> vm().httpProxy("http://h:1/\"; rm -rf /").build()).hasMessageContaining("without spaces, quotes");
  }
}
