package dev.vmlet.image;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.spec.Platform;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which kernel file a built micro image boots with, for each firmware, with and without its vmlinux. */
class MicroImageBuilderTest {
  @TempDir Path dir;

  /** A complete image directory as a build leaves it (dummy files), without a vmlinux. */
  private Path builtImage() throws Exception {
    Files.writeString(dir.resolve("vmlinuz"), "bzImage");
    Files.writeString(dir.resolve("initrd.img"), "cpio");
    Files.writeString(dir.resolve(ImageBuilder.MANIFEST), "kernel.version=6.1.0-57-cloud-amd64\n");
    return dir;
  }

  @Test
  void anImageWithAVmlinux_bootsItUnderBios_andItsBzImageUnderUefi() throws Exception {
    Path vmlinux = Files.writeString(builtImage().resolve(MicroImage.ELF_KERNEL), "ELF");
    MicroImage m = MicroImageBuilder.load(dir).orElseThrow();
    assertThat(m.elfKernel()).isEqualTo(vmlinux);
    assertThat(m.boot().forPlatform(new Platform("q35", "bios")).kernel()).isEqualTo(vmlinux);
    assertThat(m.boot().forPlatform(new Platform("microvm", "bios")).kernel()).isEqualTo(vmlinux);
    assertThat(m.boot().forPlatform(new Platform("q35", "uefi")).kernel()).isEqualTo(dir.resolve("vmlinuz"));
    assertThat(m.boot().forPlatform(new Platform("q35", "uefi")).initrd()).isEqualTo(dir.resolve("initrd.img"));
  }

  @Test
  void anImageBuiltBeforeImagesHeldAVmlinux_stillLoads_andBootsItsBzImage() throws Exception {
    MicroImage m = MicroImageBuilder.load(builtImage()).orElseThrow();
    assertThat(m.elfKernel()).isNull();
    assertThat(m.boot().forPlatform(new Platform("q35", "bios")).kernel()).isEqualTo(dir.resolve("vmlinuz"));
    assertThat(m.kernelVersion()).isEqualTo("6.1.0-57-cloud-amd64");
  }
}
