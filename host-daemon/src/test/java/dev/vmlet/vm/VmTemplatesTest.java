package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.Gson;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.spec.TemplateInfo;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checks before a clone's QEMU starts, on template files written here (no QEMU runs). */
class VmTemplatesTest {
  @TempDir Path root;

  /** Answers --version like QEMU, without being it. */
  private VmTemplates templates(String version) throws Exception {
    Path qemu = root.resolve("fake-qemu");
    Files.writeString(qemu, "#!/bin/sh\necho '" + version + "'\n");
    qemu.toFile().setExecutable(true);
    return new VmTemplates(root.resolve("templates"), new VmTable(), new QemuImg("qemu-img"), qemu.toString(), Clock.systemUTC());
  }

  private void save(String name, long stateBytes, int actualBytes, String qemuVersion) throws Exception {
    Path dir = root.resolve("templates").resolve(name);
    Files.createDirectories(dir);
    Files.write(dir.resolve("state.bin"), new byte[actualBytes]);
    TemplateInfo info = new TemplateInfo(name, "src", "micro", 1, 256, "q35", qemuVersion, 1, stateBytes, 0, "", "", "src", List.of());
    VmConfig config = VmConfig.builder("src").memoryMib(256).build();
    Files.writeString(dir.resolve("template.json"), new Gson().toJson(new VmTemplates.Stored(info, config)));
  }

  @Test
  void require_aTruncatedState_isRefusedWithTheWayOut() throws Exception {
    save("t", 100, 50, "QEMU emulator version 7.2.22");
    assertThatThrownBy(() -> templates("QEMU emulator version 7.2.22").require("t"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageContaining("50 bytes, 100 were saved (truncated?)").hasMessageContaining("vmlet template delete t");
  }

  @Test
  void require_aStateFromAnotherQemu_isRefusedBeforeQemuStarts() throws Exception {
    save("t", 10, 10, "QEMU emulator version 6.2.0");
    assertThatThrownBy(() -> templates("QEMU emulator version 7.2.22").require("t"))
        .hasMessageContaining("saved by QEMU emulator version 6.2.0, this host runs QEMU emulator version 7.2.22")
        .hasMessageContaining("make the template again");
  }

  @Test
  void cloneConfig_ofAnotherSize_isRefused_andTheTemplatesSizeIsTheDefault() throws Exception {
    save("t", 10, 10, "v");
    VmTemplates templates = templates("v");
    VmTemplates.Stored t = templates.require("t");
    assertThat(templates.cloneConfig(t, "c1", 0, 0, Map.of("team", "a"), List.of()))
        .satisfies(c -> assertThat(c.memoryMib()).isEqualTo(256))
        .satisfies(c -> assertThat(c.labels()).containsEntry("team", "a"));
    assertThatThrownBy(() -> templates.cloneConfig(t, "c2", 2, 0, Map.of(), List.of()))
        .hasMessageContaining("1 vCPUs and 256 MiB, asked for 2 vCPUs and 256 MiB");
  }

  @Test
  void missingAndDamagedTemplates_sayWhich() throws Exception {
    VmTemplates templates = templates("v");
    assertThatThrownBy(() -> templates.require("nope"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.NOT_FOUND));
    Files.createDirectories(root.resolve("templates/bad"));
    Files.writeString(root.resolve("templates/bad/template.json"), "{not json");
    assertThatThrownBy(() -> templates.get("bad")).hasMessageContaining("template 'bad' is damaged");
    assertThat(templates.list()).as("a damaged template is not listed as one").isEmpty();
  }
}
