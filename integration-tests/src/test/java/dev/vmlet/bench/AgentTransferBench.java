package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.vmlet.it.BenchSupport;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Not part of the test run: {@code ./scripts/bench agent}. In one Debian guest under this host's
 * accelerator, prints medians for: the exec round trip of {@code true}; push and pull of a 256 MiB
 * random file through vmlet's agent; the same data through qemu-guest-agent's guest-file-write
 * (base64 JSON); and the raw virtio-serial port both ways ({@code dd} to and from the port), the
 * ceiling for any agent on it.
 */
class AgentTransferBench {
  static final int MIB = 1 << 20;
  @TempDir Path tmp;

  @Test
  void agentVersusQemuGuestAgentVersusTheRawPort() throws Exception {
    int runs = Integer.getInteger("bench.runs", 5);
    int sizeMib = Integer.getInteger("bench.mib", 256);
    int qgaMib = Integer.getInteger("bench.qga.mib", 64);
    List<String> parts = List.of(System.getProperty("bench.parts", "exec,vmlet,qga,raw").split(","));
    byte[] data = new byte[sizeMib * MIB];
    new Random(11).nextBytes(data);
    try (BenchSupport.DebianVm vm = BenchSupport.debianVm(tmp, "bench-agent")) {
      List<Double> rtt = new ArrayList<>();
      for (int i = 0; i < runs && parts.contains("exec"); i++) {
        long t0 = System.nanoTime();
        assertThat(vm.exec("true")).isZero();
        rtt.add((System.nanoTime() - t0) / 1e6);
      }
      report("exec round trip of 'true' (ms)", rtt);
      vm.push("/root/bench.bin", data);

      List<Double> push = new ArrayList<>();
      List<Double> pull = new ArrayList<>();
      String sha = BenchSupport.sha(data);
      for (int i = 0; i < runs && parts.contains("vmlet"); i++) {
        long t0 = System.nanoTime();
        assertThat(vm.push("/root/bench.bin", data).getSha256()).isEqualTo(sha);
        push.add(mbps(data.length, System.nanoTime() - t0));
        long t1 = System.nanoTime();
        assertThat(BenchSupport.sha(vm.pull("/root/bench.bin"))).isEqualTo(sha);
        pull.add(mbps(data.length, System.nanoTime() - t1));
      }
      report("vmlet agent push " + sizeMib + " MiB (MB/s)", push);
      report("vmlet agent pull " + sizeMib + " MiB (MB/s)", pull);

      List<Double> qga = new ArrayList<>();
      for (int i = 0; i < Math.min(runs, 3) && parts.contains("qga"); i++) {
        qga.add(qgaWrite(vm.qgaSocket(), "/root/qga.bin", data, qgaMib * MIB));
      }
      assertThat(qga.isEmpty() ? "" : vm.sh("head -c " + qgaMib * MIB + " /root/bench.bin | sha256sum | cut -d' ' -f1").strip())
          .isEqualTo(qga.isEmpty() ? "" : vm.sh("sha256sum /root/qga.bin | cut -d' ' -f1").strip());
      report("qemu-guest-agent guest-file-write " + qgaMib + " MiB (MB/s)", qga);

      // The raw port: qemu-guest-agent stopped, dd at the guest end, this process at the host end.
      vm.sh("systemctl stop qemu-guest-agent; sleep 1");
      List<Double> rawOut = new ArrayList<>();
      List<Double> rawIn = new ArrayList<>();
      for (int i = 0; i < runs && parts.contains("raw"); i++) {
        rawOut.add(rawGuestToHost(vm, sizeMib));
        rawIn.add(rawHostToGuest(vm, sizeMib));
      }
      report("raw virtio-serial guest to host, dd " + sizeMib + " MiB (MB/s)", rawOut);
      report("raw virtio-serial host to guest, dd " + sizeMib + " MiB (MB/s)", rawIn);
    }
  }

  /** guest-file-open, guest-file-write in 1 MiB base64 chunks, guest-file-close; MB/s. */
  static double qgaWrite(Path socket, String path, byte[] data, int size) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket.toFile()))) {
      OutputStream out = s.getOutputStream();
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      // guest-sync until it echoes our id: answers left over from an earlier client are skipped.
      JsonObject sync = call(out, in, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":4242}}\n");
      for (int i = 0; i < 5 && !(sync.has("return") && sync.get("return").getAsInt() == 4242); i++) {
        System.out.println("qemu-guest-agent said " + sync + "; syncing again");
        sync = call(out, in, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":4242}}\n");
      }
      assertThat(sync.toString()).contains("4242");
      long t0 = System.nanoTime();
      JsonObject opened = call(out, in, "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":\"" + path + "\",\"mode\":\"w\"}}");
      assertThat(opened.has("return")).as(opened.toString()).isTrue();
      int handle = opened.get("return").getAsInt();
      for (int off = 0; off < size; off += MIB) {
        String b64 = Base64.getEncoder().encodeToString(java.util.Arrays.copyOfRange(data, off, Math.min(size, off + MIB)));
        JsonObject r = call(out, in, "{\"execute\":\"guest-file-write\",\"arguments\":{\"handle\":" + handle + ",\"buf-b64\":\"" + b64 + "\"}}");
        assertThat(r.has("return")).as(r.toString()).isTrue();
      }
      call(out, in, "{\"execute\":\"guest-file-close\",\"arguments\":{\"handle\":" + handle + "}}");
      return mbps(size, System.nanoTime() - t0);
    }
  }

  private static JsonObject call(OutputStream out, BufferedReader in, String json) throws Exception {
    out.write(json.getBytes(StandardCharsets.UTF_8));
    out.flush();
    while (true) {
      String line = in.readLine();
      if (line == null) {
        throw new IllegalStateException("qemu-guest-agent closed the channel");
      }
      line = line.replace("\u00ff", "").strip();
      if (!line.isEmpty()) {
        return JsonParser.parseString(line).getAsJsonObject();
      }
    }
  }

  static double rawGuestToHost(BenchSupport.DebianVm vm, int mib) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(vm.qgaSocket().toFile()))) {
      InputStream in = s.getInputStream();
      Thread dd = new Thread(() -> vm.sh("dd if=/dev/zero of=/dev/virtio-ports/org.qemu.guest_agent.0 bs=1M count=" + mib + " 2>/dev/null"));
      byte[] buf = new byte[MIB];
      long total = 0;
      dd.start();
      int n = in.read(buf);
      long t0 = System.nanoTime();
      total += n;
      while (total < (long) mib * MIB && (n = in.read(buf)) > 0) {
        total += n;
      }
      long elapsed = System.nanoTime() - t0;
      dd.join();
      return mbps(total, elapsed);
    }
  }

  static double rawHostToGuest(BenchSupport.DebianVm vm, int mib) throws Exception {
    try (AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(vm.qgaSocket().toFile()))) {
      OutputStream out = s.getOutputStream();
      String[] result = new String[1];
      Thread dd = new Thread(() -> result[0] = vm.sh("dd if=/dev/virtio-ports/org.qemu.guest_agent.0 of=/dev/null bs=1M count=" + mib
          + " iflag=fullblock 2>&1 | tail -n 1"));
      dd.start();
      Thread.sleep(1000); // dd has the port open
      byte[] buf = new byte[MIB];
      long t0 = System.nanoTime();
      for (int i = 0; i < mib; i++) {
        out.write(buf);
      }
      dd.join();
      long elapsed = System.nanoTime() - t0;
      assertThat(result[0]).contains("copied");
      return mbps((long) mib * MIB, elapsed);
    }
  }

  static double mbps(long bytes, long nanos) {
    return bytes / 1e6 / (nanos / 1e9);
  }

  static void report(String what, List<Double> values) {
    if (values.isEmpty()) {
      return;
    }
    List<Double> sorted = new ArrayList<>(values);
    sorted.sort(null);
    System.out.printf("BENCH %-55s median %8.1f   runs %s%n", what, sorted.get(sorted.size() / 2),
        values.stream().map(v -> String.format("%.1f", v)).toList());
  }
}
