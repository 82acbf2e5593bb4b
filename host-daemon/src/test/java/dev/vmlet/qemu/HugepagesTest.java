package dev.vmlet.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Against a fake /sys and /proc tree. */
class HugepagesTest {
  @TempDir Path root;

  private void fake(long free, boolean mounted) throws Exception {
    Path f = root.resolve("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
    Files.createDirectories(f.getParent());
    Files.writeString(f, free + "\n");
    Files.createDirectories(root.resolve("proc"));
    Files.writeString(root.resolve("proc/mounts"), "proc /proc proc rw 0 0\n"
        + (mounted ? "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n" : ""));
  }

  @Test
  void enoughFreePages_andAMount_giveTheMountPoint() throws Exception {
    fake(512, true);
    assertThat(new Hugepages(root).require(1024)).isEqualTo(Path.of("/dev/hugepages"));
  }

  @Test
  void tooFewPages_sayHowManyAndHowToReserveThem() throws Exception {
    fake(10, true);
    assertThatThrownBy(() -> new Hugepages(root).require(1024))
        .hasMessageContaining("needs 512 free 2 MiB hugepages, the host has 10")
        .hasMessageContaining("echo 512 > /proc/sys/vm/nr_hugepages");
  }

  @Test
  void noHugetlbfs_saysHowToMountIt() throws Exception {
    fake(512, false);
    assertThatThrownBy(() -> new Hugepages(root).require(1024)).hasMessageContaining("mount -t hugetlbfs");
  }
}
