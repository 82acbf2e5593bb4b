package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.Gson;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.spec.TemplateInfo;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import dev.vmlet.qemu.TemplateMemory;
import java.io.RandomAccessFile;
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
    return new VmTemplates(root.resolve("templates"), new VmTable(), new QemuImg("qemu-img"), qemu.toString(), Clock.systemUTC(),
        null);
  }

  private void save(String name, long stateBytes, int actualBytes, String qemuVersion) throws Exception {
    save(name, stateBytes, actualBytes, qemuVersion, null);
  }

  private void save(String name, long stateBytes, int actualBytes, String qemuVersion, VmTemplates.SharedMemory memory)
      throws Exception {
    Path dir = root.resolve("templates").resolve(name);
    Files.createDirectories(dir);
    Files.write(dir.resolve("state.bin"), new byte[actualBytes]);
    TemplateInfo info = new TemplateInfo(name, "src", "micro", 1, 256, "q35", qemuVersion, 1, stateBytes, 0, "", "", "src", 0, List.of());
    VmConfig config = VmConfig.builder("src").memoryMib(256).build();
    Files.writeString(dir.resolve("template.json"), new Gson().toJson(new VmTemplates.Stored(info, config, memory)));
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

  @Test
  void require_aTruncatedMemoryFile_isRefusedWithTheWayOut() throws Exception {
    save("t", 10, 10, "v", new VmTemplates.SharedMemory("pc.ram", 4096, 0));
    Path memory = root.resolve("templates/t").resolve(TemplateMemory.FILE);
    try (RandomAccessFile f = new RandomAccessFile(memory.toFile(), "rw")) {
      f.setLength(1024);
    }
    assertThatThrownBy(() -> templates("v").require("t"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageContaining("memory file").hasMessageContaining("1024 bytes, 4096 were saved")
        .hasMessageContaining("vmlet template delete t");
    Files.delete(memory);
    assertThatThrownBy(() -> VmTemplates.sharedMemory(root.resolve("templates/t"))).hasMessageContaining("-1 bytes, 4096 were saved");
  }

  @Test
  void get_countsTheMemoryFilesAllocatedBytes_notItsLength() throws Exception {
    save("t", 10, 10, "v", new VmTemplates.SharedMemory("pc.ram", 1 << 20, 8192));
    try (RandomAccessFile f = new RandomAccessFile(root.resolve("templates/t").resolve(TemplateMemory.FILE).toFile(), "rw")) {
      f.setLength(1 << 20);
    }
    VmTemplates templates = templates("v");
    long json = Files.size(root.resolve("templates/t/template.json"));
    assertThat(templates.get("t").sizeBytes()).isEqualTo(10 + json + 8192);
    assertThat(templates.require("t").memory().backendId()).isEqualTo("pc.ram");
  }

  @Test
  void aTemplateFromBeforeMemoryFiles_keepsItsRamInTheStream() throws Exception {
    save("old", 10, 10, "v");
    String json = Files.readString(root.resolve("templates/old/template.json"));
    assertThat(json).doesNotContain("\"memory\"");
    assertThat(templates("v").require("old").memory()).isNull();
    assertThat(VmTemplates.sharedMemory(root.resolve("templates/old"))).isNull();
  }
  @Test
  void aDebianTemplatesKernelAndSshKey_reachItsClone_linkedAndCopied_andAMicroTemplateGivesNone() throws Exception {
    Path tpl = root.resolve("templates/deb");
    Files.createDirectories(tpl.resolve(VmTemplates.BOOT_DIR));
    Files.createDirectories(tpl.resolve(VmTemplates.SSH_DIR));
    for (String f : VmTemplates.BOOT_FILES) {
      Files.writeString(tpl.resolve(VmTemplates.BOOT_DIR).resolve(f), f);
    }
    Files.writeString(tpl.resolve(VmTemplates.SSH_DIR).resolve("id_ed25519"), "private");
    Files.setPosixFilePermissions(tpl.resolve(VmTemplates.SSH_DIR).resolve("id_ed25519"),
        java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    Files.writeString(tpl.resolve(VmTemplates.SSH_DIR).resolve("id_ed25519.pub"), "ssh-ed25519 AAAA vmlet@src");
    dev.vmlet.qemu.VmFiles clone = new dev.vmlet.qemu.VmFiles(root.resolve("run/clone"), root.resolve("vms/clone"));
    LaunchPlanner.takeCloudFiles(tpl, clone);
    for (String f : VmTemplates.BOOT_FILES) {
      assertThat(Files.isSameFile(clone.baseDir().resolve(f), tpl.resolve(VmTemplates.BOOT_DIR).resolve(f))).as(f).isTrue();
    }
    assertThat(clone.sshDir().resolve("id_ed25519")).hasContent("private");
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(clone.sshDir().resolve("id_ed25519"))))
        .isEqualTo("rw-------");
    assertThat(clone.sshDir().resolve("id_ed25519.pub")).hasContent("ssh-ed25519 AAAA vmlet@src");

    Path micro = Files.createDirectories(root.resolve("templates/micro"));
    dev.vmlet.qemu.VmFiles microClone = new dev.vmlet.qemu.VmFiles(root.resolve("run/mc"), root.resolve("vms/mc"));
    LaunchPlanner.takeCloudFiles(micro, microClone);
    assertThat(microClone.baseDir()).doesNotExist();
    assertThat(microClone.sshDir()).doesNotExist();
  }
}
