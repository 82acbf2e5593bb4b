package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.qemu.FakeQemu;
import dev.vmlet.spec.VmConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateRamFileTest {
  @TempDir Path dir;

  @Test
  void split_whenTheHelperCannotLoadTheStream_endsTheHelper_andRemovesItsRunDirectory() throws Exception {
    Path run = Files.createDirectories(dir.resolve("run"));
    Path full = Files.write(dir.resolve("full.bin"), new byte[] {1, 2, 3});
    try (FakeQemu qemu = new FakeQemu(dir)) { // its QMP knows no migrate-incoming: the load fails as a refused one does
      TemplateRamFile ramFile = new TemplateRamFile((c, id, f) -> List.of("qemu-system-x86_64"), qemu, run);
      assertThatThrownBy(() -> ramFile.split(VmConfig.builder("src").memoryMib(256).build(), "id", "pc.ram", full,
          dir.resolve("memory"), dir.resolve("state.bin"), dir.resolve("template")))
          .isInstanceOf(IOException.class).hasMessageContaining("migrate-incoming");
      assertThat(qemu.argv()).containsSubsequence("-object", "memory-backend-file,id=pc.ram,size=256M,mem-path=" + dir.resolve("memory")
          + ",share=on", "-machine", "memory-backend=pc.ram", "-S", "-incoming", "defer");
      assertThat(qemu.anyRunning()).as("the helper QEMU is ended").isFalse();
      try (var left = Files.list(run)) {
        assertThat(left).as("the helper's run directory is removed").isEmpty();
      }
      assertThat(dir.resolve("state.bin")).doesNotExist();
      assertThat(Files.size(dir.resolve("memory"))).as("made sparse, for the caller to remove").isEqualTo(256L << 20);
    }
  }
}
