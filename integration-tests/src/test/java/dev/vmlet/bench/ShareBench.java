package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.api.ApiEnums;
import dev.vmlet.it.BenchSupport;
import dev.vmlet.proto.v1.Share;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Not part of the test run: {@code ./scripts/bench share}. One micro VM with a virtiofs share;
 * each run moves the same file (256 MiB of random bytes, {@code -Dbench.mib}) four ways and times
 * each as the host sees it (the wall time of the call, so an exec's round trip is in the share's
 * figures): the guest reads the host's file from the share, the guest writes one into the share
 * (fsync), and {@code vmlet cp}'s path (FileClient, through the agent) pushes it to the guest's
 * /tmp and pulls it back. The guest's page cache is dropped before each read, so every read goes
 * through virtiofs.
 */
class ShareBench {
  @TempDir Path tmp;

  @Test
  void throughputThroughAShareNextToVmletCp() throws Exception {
    int runs = Integer.getInteger("bench.share.runs", 3);
    int mib = Integer.getInteger("bench.mib", 256);
    byte[] data = new byte[mib << 20];
    new Random(19).nextBytes(data);
    String sha = BenchSupport.sha(data);
    Path shared = Files.createDirectories(tmp.resolve("shared"));
    Files.write(shared.resolve("host.bin"), data);
    try (BenchSupport.MicroNode node = BenchSupport.microNode(tmp.resolve("node"))) {
      // 1 GiB: the pushed copy lives in the guest's RAM (/tmp), beside the page cache of the share.
      Vm vm = node.start(VmSpec.newBuilder().setName("share").setMemoryMib(1024)
          .addShares(Share.newBuilder().setHostPath(shared.toString()).setGuestPath("/mnt/work")).build());
      String accel = ApiEnums.word(vm.getAccel());
      // (No digest in the guest: busybox's sha256sum of 256 MiB under TCG takes longer than an exec's deadline.
      // The host checks what the guest wrote back instead, below.)
      assertThat(node.sh("share", "stat -c %s /mnt/work/host.bin")).isEqualTo(data.length + "\n");
      List<Double> shareRead = new ArrayList<>();
      List<Double> shareWrite = new ArrayList<>();
      List<Double> cpPush = new ArrayList<>();
      List<Double> cpPull = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        node.sh("share", "sync; echo 3 > /proc/sys/vm/drop_caches");
        shareRead.add(Bench.mbPerSecond(data.length, () -> assertThat(node.sh("share", "cat /mnt/work/host.bin > /dev/null && echo ok"))
            .isEqualTo("ok\n")));
        shareWrite.add(Bench.mbPerSecond(data.length, () -> assertThat(node.sh("share",
            "dd if=/mnt/work/host.bin of=/mnt/work/guest.bin bs=1M conv=fsync 2>/dev/null && echo ok")).isEqualTo("ok\n")));
        node.sh("share", "sync; echo 3 > /proc/sys/vm/drop_caches");
        cpPush.add(Bench.mbPerSecond(data.length, () -> assertThat(node.push("share", "/tmp/pushed.bin", data).getSha256()).isEqualTo(sha)));
        cpPull.add(Bench.mbPerSecond(data.length, () -> assertThat(BenchSupport.sha(node.pull("share", "/tmp/pushed.bin"))).isEqualTo(sha)));
        node.sh("share", "rm -f /tmp/pushed.bin");
      }
      // What the guest wrote through the share is on the host, whole (its bytes are the host file's).
      assertThat(BenchSupport.sha(Files.readAllBytes(shared.resolve("guest.bin")))).isEqualTo(sha);
      String size = mib + " MiB";
      Bench.report("micro VM (" + accel + "), " + size + " through a virtiofs share: guest reads the host's file (MB/s)",
          Bench.stats(shareRead, "%.1f"));
      Bench.report("micro VM (" + accel + "), " + size + " through a virtiofs share: guest writes a file, fsync (MB/s)",
          Bench.stats(shareWrite, "%.1f"));
      Bench.report("micro VM (" + accel + "), " + size + " with vmlet cp's path (agent): push / pull (MB/s)",
          Bench.stats(cpPush, "%.1f") + " / " + Bench.stats(cpPull, "%.1f"));
      new Bench.Chart("share-throughput.png", size + " into and out of a micro VM under " + accel + " (MB/s, medians)", "MB/s")
          .bar("MB/s", "share: guest reads", Bench.median(shareRead))
          .bar("MB/s", "share: guest writes", Bench.median(shareWrite))
          .bar("MB/s", "vmlet cp: push", Bench.median(cpPush))
          .bar("MB/s", "vmlet cp: pull", Bench.median(cpPull))
          .write();
    }
  }
}
