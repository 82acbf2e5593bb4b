package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.daemon.DaemonServer;
import dev.vmlet.client.Nodes;
import dev.vmlet.host.HostAccess;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.ListVmsResponse;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.security.AuditLog;
import dev.vmlet.security.NodePki;
import dev.vmlet.security.Role;
import dev.vmlet.spec.BootImage;
import dev.vmlet.vm.VmManager;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.Collections;

/**
 * Not part of the test run: {@code ./scripts/bench control}. A real daemon server with 1,000 VMs
 * defined (not running), asked over its unix socket and over mutual TLS: GetVm and ListVms latency
 * (p50 and p90 of each run; the figure is the median over runs, with min and max) and GetVm
 * throughput with 8 callers at once.
 */
class ControlPlaneBench {
  static final int VMS = Integer.getInteger("bench.vms", 1000);
  @TempDir Path dir;

  @Test
  void getVmAndListVms_with1000Vms_overTheUnixSocketAndOverMutualTls() throws Exception {
    NodePki pki = new NodePki(dir.resolve("pki"));
    pki.init(List.of());
    pki.issueClient("bench", Role.ADMIN, Duration.ofDays(1));
    VmletPaths paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
    Files.createDirectories(dir.resolve("boot"));
    Path kernel = Files.writeString(dir.resolve("boot/vmlinuz"), "k");
    Path initrd = Files.writeString(dir.resolve("boot/initrd.img"), "i");
    VmManager manager = new VmManager(paths, name -> new BootImage(kernel, initrd),
        new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "qemu-system-x86_64", Clock.systemUTC());
    DaemonServer server = new DaemonServer(paths.socket(), manager, HostAccess.disabled(), Nodes.NONE,
        new AuditLog(paths.stateDir().resolve("audit.log")), new DaemonServer.Tls(new InetSocketAddress("127.0.0.1", 0), pki), 64);
    server.start();
    try (DaemonClient unix = new DaemonClient(paths.socket());
         DaemonClient tls = new DaemonClient(new InetSocketAddress("127.0.0.1", server.tlsPort()), pki.clientCert("bench"),
             pki.clientKey("bench"), pki.caCert())) {
      long t0 = System.nanoTime();
      for (int i = 0; i < VMS; i++) {
        unix.vms().withDeadlineAfter(10, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder()
            .setName("vm-" + i).setMemoryMib(256).putLabels("group", "g" + i % 10)).build());
      }
      double createS = (System.nanoTime() - t0) / 1e9;
      Bench.report("control plane: CreateVm x " + VMS + " (not started), one caller, unix socket",
          String.format("%.1f s, %.0f a second (each writes and fsyncs its state file)", createS, VMS / createS));
      ListVmsResponse all = unix.vms().listVms(ListVmsRequest.getDefaultInstance());
      assertThat(all.getVmsCount()).isEqualTo(VMS);
      Bench.report("control plane: ListVms reply with " + VMS + " VMs", String.format("%.0f KiB", all.getSerializedSize() / 1024.0));

      Bench.Chart latency = new Bench.Chart("control-plane-latency.png",
          "Control plane with " + VMS + " VMs defined: median p50 latency (ms)", "ms");
      Bench.Chart throughput = new Bench.Chart("control-plane-throughput.png",
          "GetVm with " + VMS + " VMs defined, 8 callers at once (calls a second)", "calls/s");
      for (String transport : List.of("unix socket", "mutual TLS")) {
        DaemonClient c = transport.equals("unix socket") ? unix : tls;
        List<Double> getP50 = new ArrayList<>();
        List<Double> getP90 = new ArrayList<>();
        List<Double> listP50 = new ArrayList<>();
        List<Double> listP90 = new ArrayList<>();
        List<Double> rate = new ArrayList<>();
        warmUp(c);
        for (int run = 0; run < Bench.runs(); run++) {
          List<Double> get = timed(2000, i -> c.vms().withDeadlineAfter(10, TimeUnit.SECONDS)
              .getVm(VmRef.newBuilder().setName("vm-" + (i * 7919 % VMS)).build()));
          getP50.add(Bench.percentile(get, 50));
          getP90.add(Bench.percentile(get, 90));
          List<Double> list = timed(50, i -> c.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance()));
          listP50.add(Bench.percentile(list, 50));
          listP90.add(Bench.percentile(list, 90));
          rate.add(callsPerSecond(8, 3, () -> c));
        }
        Bench.report("control plane, " + transport + ": GetVm latency p50 / p90 (ms)",
            Bench.stats(getP50, "%.3f") + " / " + Bench.stats(getP90, "%.3f"));
        Bench.report("control plane, " + transport + ": ListVms of " + VMS + " latency p50 / p90 (ms)",
            Bench.stats(listP50, "%.1f") + " / " + Bench.stats(listP90, "%.1f"));
        Bench.report("control plane, " + transport + ": GetVm throughput, 8 callers (calls/s)", Bench.stats(rate, "%.0f"));
        latency.bar(transport, "GetVm", Bench.median(getP50)).bar(transport, "ListVms (" + VMS + " VMs)", Bench.median(listP50));
        throughput.bar("GetVm", transport, Bench.median(rate));
      }
      latency.write();
      throughput.write();
    } finally {
      server.close();
    }
  }

  private interface Call {
    void run(int i) throws Exception;
  }

  private static void warmUp(DaemonClient c) throws Exception {
    timed(500, i -> c.vms().getVm(VmRef.newBuilder().setName("vm-" + i % VMS).build()));
    timed(10, i -> c.vms().listVms(ListVmsRequest.getDefaultInstance()));
  }

  /** Each call's time in milliseconds. */
  private static List<Double> timed(int n, Call call) throws Exception {
    List<Double> ms = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      long t = System.nanoTime();
      call.run(i);
      ms.add((System.nanoTime() - t) / 1e6);
    }
    return ms;
  }

  /** GetVm calls a second with {@code callers} threads calling in a loop for {@code seconds}. */
  private static double callsPerSecond(int callers, int seconds, Supplier<DaemonClient> client) throws Exception {
    AtomicLong calls = new AtomicLong();
    CountDownLatch done = new CountDownLatch(callers);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    for (int t = 0; t < callers; t++) {
      int seed = t;
      Thread th = new Thread(() -> {
        try {
          int i = seed;
          while (System.nanoTime() < end) {
            client.get().vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName("vm-" + (i++ % VMS)).build());
            calls.incrementAndGet();
          }
        } catch (Throwable e) {
          errors.add(e);
        } finally {
          done.countDown();
        }
      });
      th.start();
    }
    done.await();
    assertThat(errors).isEmpty();
    return calls.get() / (double) seconds;
  }
}
