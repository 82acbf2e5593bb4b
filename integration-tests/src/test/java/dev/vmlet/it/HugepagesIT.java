package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VM backed by real 2 MiB hugepages. Root only: it reserves pages and mounts a hugetlbfs for the
 * duration of the test, and puts the host back as it was.
 */
class HugepagesIT {
  private static final Path NR = Path.of("/proc/sys/vm/nr_hugepages");
  private static final Path FREE = Path.of("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");

  @TempDir Path tmp;

  static long read(Path p) throws Exception {
    return Long.parseLong(Files.readString(p).strip());
  }

  static boolean hugetlbfsMounted() throws Exception {
    return Files.readAllLines(Path.of("/proc/mounts")).stream().anyMatch(l -> l.split(" ")[2].equals("hugetlbfs"));
  }

  static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    return p.waitFor(10, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  @Test
  void aHugepagesVm_takesItsMemoryFromTheHugepagePool_andGivesItBack() throws Exception {
    assumeTrue(Files.isWritable(NR) && new ProcessBuilder("id", "-u").start().inputReader().readLine().equals("0"),
        "reserving hugepages needs root");
    long before = read(NR);
    Path mount = null;
    try (TestDaemon d = TestDaemon.start(tmp)) {
      Files.writeString(NR, Long.toString(before + 160));
      assumeTrue(read(FREE) >= 160, "the kernel could not reserve 160 hugepages (memory too fragmented)");
      if (!hugetlbfsMounted()) {
        mount = Files.createDirectories(tmp.resolve("hugepages"));
        assertThat(run("mount", "-t", "hugetlbfs", "none", mount.toString())).isZero();
      }
      long freeBefore = read(FREE);
      d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
          .setSpec(VmSpec.newBuilder().setName("it-huge").setMemoryMib(256).setHugepages(true)).setStart(true).build());
      Guests.waitReady(d.client, "it-huge");
      // prealloc=on: all 128 pages are taken when QEMU starts, not as the guest touches them.
      assertThat(freeBefore - read(FREE)).isEqualTo(128);
      assertThat(Guests.sh(d.client, "it-huge", "echo ok")).isEqualTo("ok\n");
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("it-huge").setForce(true).build());
      // The kernel frees a dead process's hugepages as it tears its memory down, which may end a
      // moment after QEMU was reaped.
      Poll.until("the hugepage pool to be back at " + freeBefore + " free pages", Duration.ofSeconds(10),
          () -> read(FREE) == freeBefore);
    } finally {
      if (mount != null) {
        run("umount", mount.toString());
      }
      Files.writeString(NR, Long.toString(before));
    }
  }
}
