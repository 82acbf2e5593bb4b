package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.api.ApiEnums;
import dev.vmlet.it.BenchSupport;
import dev.vmlet.proto.v1.Share;
import dev.vmlet.proto.v1.ShareType;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Not part of the test run: {@code ./scripts/bench share}. One micro-generic VM (the micro image on
 * Debian's generic kernel, the one that mounts both) with a virtiofs share and a 9p share; each run
 * moves the same file (256 MiB of random bytes, {@code -Dbench.mib}) six ways and times each as the
 * host sees it (the wall time of the call, so an exec's round trip is in the share's figures): the
 * guest reads the host's file from each share, the guest writes one into each share (fsync), and
 * {@code vmlet cp}'s path (FileClient, through the agent) pushes it to the guest's /tmp and pulls it
 * back. The guest's page cache is dropped before each read, so every read goes through the share.
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
    // QEMU serves the 9p share as its user (vmlet-qemu under this root daemon): let it in and write.
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path ninep = Files.createDirectories(tmp.resolve("shared-9p"));
    Files.setPosixFilePermissions(ninep, PosixFilePermissions.fromString("rwxrwxrwx"));
    Files.createLink(ninep.resolve("host.bin"), shared.resolve("host.bin"));
    BenchSupport.buildMicroGeneric();
    try (BenchSupport.MicroNode node = BenchSupport.microNode(tmp.resolve("node"))) {
      // 1 GiB: the pushed copy lives in the guest's RAM (/tmp), beside the page cache of the share.
      Vm vm = node.start(VmSpec.newBuilder().setName("share").setImage("micro-generic").setMemoryMib(1024)
          .addShares(Share.newBuilder().setHostPath(shared.toString()).setGuestPath("/mnt/work"))
          .addShares(Share.newBuilder().setHostPath(ninep.toString()).setGuestPath("/mnt/9p").setType(ShareType.SHARE_TYPE_9P))
          .build());
      String accel = ApiEnums.word(vm.getAccel());
      // (No digest in the guest: busybox's sha256sum of 256 MiB under TCG takes longer than an exec's deadline.
      // The host checks what the guest wrote back instead, below.)
      assertThat(node.sh("share", "stat -c %s /mnt/work/host.bin /mnt/9p/host.bin")).isEqualTo(data.length + "\n" + data.length + "\n");
      Map<String, List<Double>> read = new LinkedHashMap<>();
      Map<String, List<Double>> write = new LinkedHashMap<>();
      List<Double> cpPush = new ArrayList<>();
      List<Double> cpPull = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        for (String dir : List.of("/mnt/work", "/mnt/9p")) {
          node.sh("share", "sync; echo 3 > /proc/sys/vm/drop_caches");
          read.computeIfAbsent(dir, k -> new ArrayList<>()).add(Bench.mbPerSecond(data.length,
              () -> assertThat(node.sh("share", "cat " + dir + "/host.bin > /dev/null && echo ok")).isEqualTo("ok\n")));
          write.computeIfAbsent(dir, k -> new ArrayList<>()).add(Bench.mbPerSecond(data.length, () -> assertThat(node.sh("share",
              "dd if=" + dir + "/host.bin of=" + dir + "/guest.bin bs=1M conv=fsync 2>/dev/null && echo ok")).isEqualTo("ok\n")));
        }
        node.sh("share", "sync; echo 3 > /proc/sys/vm/drop_caches");
        cpPush.add(Bench.mbPerSecond(data.length, () -> assertThat(node.push("share", "/tmp/pushed.bin", data).getSha256()).isEqualTo(sha)));
        cpPull.add(Bench.mbPerSecond(data.length, () -> assertThat(BenchSupport.sha(node.pull("share", "/tmp/pushed.bin"))).isEqualTo(sha)));
        node.sh("share", "rm -f /tmp/pushed.bin");
      }
      // What the guest wrote through each share is on the host, whole (its bytes are the host file's).
      assertThat(BenchSupport.sha(Files.readAllBytes(shared.resolve("guest.bin")))).isEqualTo(sha);
      assertThat(BenchSupport.sha(Files.readAllBytes(ninep.resolve("guest.bin")))).isEqualTo(sha);
      List<Double> shareRead = read.get("/mnt/work");
      List<Double> shareWrite = write.get("/mnt/work");
      List<Double> ninepRead = read.get("/mnt/9p");
      List<Double> ninepWrite = write.get("/mnt/9p");
      String size = mib + " MiB";
      String where = "micro-generic VM (" + accel + "), " + size;
      Bench.report(where + ": guest reads the host's file: virtiofs / 9p (MB/s)",
          Bench.stats(shareRead, "%.1f") + " / " + Bench.stats(ninepRead, "%.1f"));
      Bench.report(where + ": guest writes a file, fsync: virtiofs / 9p (MB/s)",
          Bench.stats(shareWrite, "%.1f") + " / " + Bench.stats(ninepWrite, "%.1f"));
      Bench.report(where + " with vmlet cp's path (agent): push / pull (MB/s)",
          Bench.stats(cpPush, "%.1f") + " / " + Bench.stats(cpPull, "%.1f"));
      new Bench.Chart("share-throughput.png", size + " into and out of a micro-generic VM under " + accel + " (MB/s, medians)", "MB/s")
          .bar("MB/s", "virtiofs read", Bench.median(shareRead))
          .bar("MB/s", "virtiofs write", Bench.median(shareWrite))
          .bar("MB/s", "9p read", Bench.median(ninepRead))
          .bar("MB/s", "9p write", Bench.median(ninepWrite))
          .bar("MB/s", "cp push", Bench.median(cpPush))
          .bar("MB/s", "cp pull", Bench.median(cpPull))
          .write();
    }
  }
}
