package dev.vmlet.cloudinit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proc.FakeProcessRunner;
import dev.vmlet.proc.FakeProcessRunner.Reply;
import dev.vmlet.proc.ProcessRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Assumptions;

/** The seed's xorriso run, with xorriso scripted: what it is given and what a failure leaves. */
class SeedIsoTest {
  @TempDir Path dir;
  private final FakeProcessRunner runner = new FakeProcessRunner();
  private final Map<String, String> seen = new TreeMap<>();

  /** A fake xorriso that notes the files it was asked to pack and writes their names as the image. */
  private Reply xorriso(ProcessRequest r) throws IOException {
    List<String> c = r.command();
    Path content = Path.of(c.get(c.size() - 1));
    try (Stream<Path> files = Files.list(content)) {
      for (Path f : files.toList()) {
        seen.put(f.getFileName().toString(), Files.readString(f));
      }
    }
    Files.writeString(Path.of(c.get(c.indexOf("-output") + 1)), String.join(",", seen.keySet()));
    return Reply.exit(0, "", "");
  }

  @Test
  void aSeed_isPackedByXorriso_labelledCidata_andReplacesTheOldOne() throws Exception {
    Path iso = dir.resolve("seed.iso");
    Files.writeString(iso, "old");
    runner.when("xorriso").thenAnswer(this::xorriso);
    SeedIso.write(iso, Map.of("meta-data", "instance-id: i-1\n", "user-data", "#cloud-config\n"), runner);
    assertThat(seen).containsExactly(Map.entry("meta-data", "instance-id: i-1\n"), Map.entry("user-data", "#cloud-config\n"));
    assertThat(Files.readString(iso)).isEqualTo("meta-data,user-data");
    assertThat(runner.calls()).singleElement().satisfies(r -> {
      assertThat(r.command()).containsSubsequence("-as", "mkisofs", "-output", iso + ".tmp", "-volid", "cidata", "-joliet", "-rock");
      assertThat(r.timeout()).isEqualTo(SeedIso.TIMEOUT);
    });
    assertThat(dir).isDirectoryContaining(p -> p.equals(iso)).isDirectoryNotContaining(p -> !p.equals(iso));
  }

  @Test
  void aFailingXorriso_leavesTheOldSeedAndNoTemporaryFiles_andSaysWhatItPrinted() throws Exception {
    Path iso = dir.resolve("seed.iso");
    Files.writeString(iso, "old");
    runner.when("xorriso").thenFail(5, "xorriso : FAILURE : Cannot write\n");
    assertThatThrownBy(() -> SeedIso.write(iso, Map.of("meta-data", ""), runner))
        .hasMessageStartingWith("xorriso could not write the cloud-init seed: xorriso -as mkisofs")
        .hasMessageEndingWith("exited with 5: xorriso : FAILURE : Cannot write");
    assertThat(Files.readString(iso)).isEqualTo("old");
    assertThat(dir).isDirectoryNotContaining(p -> !p.equals(iso));
  }

  @Test
  void aHungXorriso_failsAfterItsBound() {
    runner.when("xorriso").thenTimeOut();
    assertThatThrownBy(() -> SeedIso.write(dir.resolve("seed.iso"), Map.of("meta-data", ""), runner))
        .hasMessageContaining("did not finish within 60 s");
  }

  @Test
  void theHostsXorriso_writesAnIso9660ImageLabelledCidata() throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/xorriso")), "needs xorriso (scripts/test installs it)");
    Path iso = dir.resolve("seed.iso");
    SeedIso.write(iso, Map.of("meta-data", "instance-id: i-1\n"));
    byte[] b = Files.readAllBytes(iso);
    // The primary volume descriptor: sector 16, "CD001" at byte 1, the volume id at byte 40.
    assertThat(new String(b, 16 * 2048 + 1, 5, StandardCharsets.US_ASCII)).isEqualTo("CD001");
    assertThat(new String(b, 16 * 2048 + 40, 6, StandardCharsets.US_ASCII)).isEqualTo("cidata");
  }
}
