package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SmbiosSettingsTest {
  @TempDir Path tmp;

  /** A raw type-11 structure as the kernel's dmi-sysfs shows it: header, count, strings, end. */
  static byte[] type11(String... strings) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {11, 5, 0x00, 0x0b, (byte) strings.length});
    for (String s : strings) {
      out.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
      out.write(0);
    }
    out.write(0);
    return out.toByteArray();
  }

  @Test
  void readOemStrings_fromDmiEntries_givesEveryTypeElevenStringInOrder() throws Exception {
    Files.createDirectories(tmp.resolve("11-0"));
    Files.createDirectories(tmp.resolve("11-1"));
    Files.createDirectories(tmp.resolve("1-0"));
    Files.write(tmp.resolve("11-0/raw"), type11("first", "second"));
    Files.write(tmp.resolve("11-1/raw"), type11("third"));
    Files.write(tmp.resolve("1-0/raw"), type11("not an OEM string"));
    assertThat(SmbiosSettings.readOemStrings(tmp)).containsExactly("first", "second", "third");
    assertThat(SmbiosSettings.readOemStrings(tmp.resolve("missing"))).isEmpty();
  }

  @Test
  void parse_textBinaryProxyAndOthers_keepsCredentialsAndProxyOnly() {
    byte[] binary = {0, 1, 2, (byte) 0xff, '\n'};
    SmbiosSettings s = SmbiosSettings.parse(List.of("io.systemd.credential:db.password=s3cr=t",
        "io.systemd.credential.binary:blob=" + Base64.getEncoder().encodeToString(binary),
        "vmlet.http_proxy=http://u:p@10.0.2.2:3128", "some vendor string", "io.systemd.credential:bad/name=x",
        "io.systemd.credential.binary:notbase64=%%%", "io.systemd.credential:noequals"));
    assertThat(s.credentialNames()).containsExactly("db.password", "blob");
    assertThat(new String(s.credential("db.password"), StandardCharsets.UTF_8)).isEqualTo("s3cr=t");
    assertThat(s.credential("blob")).isEqualTo(binary);
    assertThat(s.httpProxyShown()).isEqualTo("http://***@10.0.2.2:3128");
    assertThat(s.environment()).containsEntry("https_proxy", "http://u:p@10.0.2.2:3128")
        .containsEntry("HTTP_PROXY", "http://u:p@10.0.2.2:3128").doesNotContainKey("CREDENTIALS_DIRECTORY");
  }

  @Test
  void install_writesOwnerOnlyFiles_replacesOldOnes_andPointsProgramsThere() throws Exception {
    Path dir = tmp.resolve("run/vmlet/credentials");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("stale"), "from an earlier boot");
    SmbiosSettings s = SmbiosSettings.parse(List.of("io.systemd.credential:token=abc")).install(dir);
    assertThat(Files.readString(dir.resolve("token"))).isEqualTo("abc");
    assertThat(dir.resolve("stale")).doesNotExist();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("token")))).isEqualTo("r--------");
    assertThat(s.environment()).containsEntry("CREDENTIALS_DIRECTORY", dir.toString()).doesNotContainKey("http_proxy");
  }

  @Test
  void current_beforeLoad_isEmpty() {
    assertThat(SmbiosSettings.current().environment()).isEmpty();
    assertThat(SmbiosSettings.current().credentialNames()).isEmpty();
  }
}
