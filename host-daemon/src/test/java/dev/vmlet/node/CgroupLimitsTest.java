package dev.vmlet.node;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's cgroup limits read from fake cgroup v2 and v1 trees, and the refusal they lead to. */
class CgroupLimitsTest {
  @TempDir Path root;

  private void file(String path, String text) throws Exception {
    Path p = root.resolve(path);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
  }

  @Test
  void v2_inAContainersNamespace_readsTheMountsOwnFiles() throws Exception {
    file("proc/self/cgroup", "0::/\n");
    file("sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
    file("sys/fs/cgroup/memory.max", "1073741824\n");
    file("sys/fs/cgroup/cpu.max", "150000 100000\n");

    CgroupLimits l = CgroupLimits.read(root);

    assertThat(l.memoryBytes()).isEqualTo(1L << 30);
    assertThat(l.memoryFile()).endsWith("sys/fs/cgroup/memory.max");
    assertThat(l.cpus()).isEqualTo(1.5);
  }

  @Test
  void v2_aSystemdUnit_takesTheSmallestLimitOfItsCgroupAndItsParents() throws Exception {
    file("proc/self/cgroup", "0::/system.slice/vmlet.service\n");
    file("sys/fs/cgroup/cgroup.controllers", "cpu memory\n");
    file("sys/fs/cgroup/system.slice/memory.max", "2147483648\n");
    file("sys/fs/cgroup/system.slice/vmlet.service/memory.max", "max\n");
    file("sys/fs/cgroup/system.slice/vmlet.service/cpu.max", "max 100000\n");

    CgroupLimits l = CgroupLimits.read(root);

    assertThat(l.memoryBytes()).isEqualTo(2L << 30);
    assertThat(l.memoryFile()).endsWith("system.slice/memory.max");
    assertThat(l.cpus()).isZero();
  }

  @Test
  void v1_dockersMounts_readLimitInBytesAndTheCfsQuota() throws Exception {
    file("proc/self/cgroup", "9:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n");
    file("sys/fs/cgroup/memory/memory.limit_in_bytes", "805306368\n");
    file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "200000\n");
    file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");

    CgroupLimits l = CgroupLimits.read(root);

    assertThat(l.memoryBytes()).isEqualTo(768L << 20);
    assertThat(l.cpus()).isEqualTo(2.0);
    assertThat(l.cpuFile()).endsWith("cpu.cfs_quota_us");
  }

  @Test
  void v1_noLimit_isNone() throws Exception {
    file("proc/self/cgroup", "9:memory:/\n4:cpu,cpuacct:/\n");
    file("sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
    file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");

    assertThat(CgroupLimits.read(root)).isEqualTo(CgroupLimits.NONE);
  }

  @Test
  void noProc_isNone() {
    assertThat(CgroupLimits.read(root)).isEqualTo(CgroupLimits.NONE);
  }

  @Test
  void refusal_aVmBesideRunningOnesOverTheMemoryLimit_namesTheLimitAndItsFile() {
    CgroupLimits l = new CgroupLimits(1024L << 20, "/sys/fs/cgroup/memory.max", 0, "");

    String why = l.refusal("big", 512, 1, 300, 1, 200);

    assertThat(why).contains("VM 'big' needs 512 MiB + " + CgroupLimits.QEMU_OVERHEAD_MIB + " MiB for its QEMU")
        .contains("allows 1024 MiB (/sys/fs/cgroup/memory.max)").contains("500 MiB of it are taken (1 running VM(s)")
        .contains("--limit-memory");
    assertThat(l.refusal("small", 256, 1, 300, 1, 200)).isNull();
  }

  @Test
  void refusal_moreVcpusThanTheCpuLimitRoundedUp_namesTheLimit() {
    CgroupLimits l = new CgroupLimits(Long.MAX_VALUE, "", 1.5, "/sys/fs/cgroup/cpu.max");

    assertThat(l.refusal("wide", 512, 3, 0, 0, 200)).contains("3 vCPUs").contains("1.50 CPUs (/sys/fs/cgroup/cpu.max)")
        .contains("at most 2");
    assertThat(l.refusal("ok", 512, 2, 0, 0, 200)).isNull();
  }
}
