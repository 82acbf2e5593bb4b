package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.ExecClient;
import dev.vmlet.client.FileClient;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.faults.Faults;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.PushFileHeader;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.qemu.QemuProcess;
import io.grpc.StatusRuntimeException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.Arrays;

/**
 * Fault suite: the daemon killed with SIGKILL while VMs run with an exec and a push in flight on
 * each, cycle after cycle. Every VM must be re-adopted with the same QEMU and no guest reboot, every
 * agent must come back, every call in flight must fail with a status (not hang), and the guests
 * must keep no partial file and no orphaned program. Short form: 2 VMs, 3 cycles; long: 10, 50.
 */
class DaemonKillFaultIT {
  @TempDir Path tmp;
  private DaemonProcess daemon;
  private final Map<String, Long> qemuPids = new HashMap<>();

  @AfterEach
  void tearDown() throws Exception {
    if (daemon != null) {
      daemon.destroy();
    }
    for (long pid : qemuPids.values()) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  /** One MiB, then blocks until released: a push that is surely in flight when the daemon dies. */
  private static InputStream stalling(CountDownLatch release) {
    return new InputStream() {
      private int left = 1 << 20;

      @Override
      public int read() {
        throw new UnsupportedOperationException();
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (left == 0) {
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return -1; // the daemon is gone: the push ends with its call's status
        }
        int n = Math.min(len, left);
        Arrays.fill(b, off, off + n, (byte) 'x');
        left -= n;
        return n;
      }
    };
  }

  /** Waits for a call's end: true when it ended with a gRPC status (what a client can act on). */
  private static boolean failedWithStatus(CompletableFuture<Throwable> call) throws Exception {
    Throwable t = call.get(60, TimeUnit.SECONDS);
    return t instanceof StatusRuntimeException;
  }

  @Test
  void daemonKilledWithCallsInFlight_everyVmReadopted_everyAgentBack_nothingLeftHalfDone() throws Exception {
    int vms = Faults.pick(2, 10);
    int cycles = Faults.pick(3, 50);
    daemon = new DaemonProcess(tmp);
    daemon.start();
    List<String> names = new ArrayList<>();
    Map<String, String> bootIds = new HashMap<>();
    try (DaemonClient c = daemon.client()) {
      for (int i = 0; i < vms; i++) {
        String name = "f" + i;
        names.add(name);
        Vm vm = c.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
            .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(384)).setStart(true).build());
        qemuPids.put(name, vm.getPid());
      }
      for (String name : names) {
        Guests.waitReady(c, name);
        bootIds.put(name, Guests.sh(c, name, "cat /proc/sys/kernel/random/boot_id").strip());
      }
    }
    List<Long> backMs = new ArrayList<>();
    int readopted = 0;
    int inFlight = 0;
    int failedCleanly = 0;
    int partialFiles = 0;
    int programsLeft = 0;
    int keptForResume = 0;
    for (int cycle = 0; cycle < cycles; cycle++) {
      CountDownLatch release = new CountDownLatch(1);
      List<CompletableFuture<Throwable>> calls = new ArrayList<>();
      DaemonClient c = daemon.client();
      for (String name : names) {
        Guests.sh(c, name, "rm -rf /tmp/inflight; mkdir -p /tmp/inflight");
        calls.add(inThread(() -> {
          try (ExecClient exec = ExecClient.start(c.vmsAsync(),
              ExecRequest.newBuilder().setName(name).addArgv("sleep").addArgv("600").build())) {
            while (exec.next() != null) {
              // no output: it runs until the daemon dies
            }
          }
        }));
        calls.add(inThread(() -> FileClient.push(c, PushFileHeader.newBuilder().setName(name).setPath("/tmp/inflight/big.bin").build(),
            stalling(release), null, -1)));
      }
      inFlight += calls.size();
      assertThat(waitForGuestPrograms(c, names, "sleep 600", 1)).as("execs running before the kill").isEqualTo(names.size());
      Poll.until("every guest to hold the start of its push in /tmp/inflight", Duration.ofSeconds(30),
          () -> names.stream().allMatch(name -> !Guests.sh(c, name, "ls -A /tmp/inflight").isBlank()));

      daemon.kill();
      release.countDown();
      for (CompletableFuture<Throwable> call : calls) {
        if (failedWithStatus(call)) {
          failedCleanly++;
        }
      }
      c.close();
      for (String name : names) {
        assertThat(ProcessHandle.of(qemuPids.get(name)).map(QemuProcess::isRunning).orElse(false))
            .as("QEMU of %s outlives the daemon", name).isTrue();
      }

      long restartAt = System.nanoTime();
      daemon.start();
      try (DaemonClient next = daemon.client()) {
        List<Vm> listed = next.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance()).getVmsList();
        for (Vm vm : listed) {
          if (vm.getState() == VmState.RUNNING && vm.getPid() == qemuPids.get(vm.getSpec().getName())) {
            readopted++;
          }
        }
        for (String name : names) {
          Guests.waitReady(next, name);
          backMs.add((System.nanoTime() - restartAt) / 1_000_000);
          assertThat(Guests.sh(next, name, "cat /proc/sys/kernel/random/boot_id").strip()).as("%s not rebooted", name)
              .isEqualTo(bootIds.get(name));
        }
        programsLeft += waitForGuestPrograms(next, names, "sleep 600", 0);
        for (String name : names) {
          // The destination must not exist, nor any temporary file; what arrived may be kept, hidden,
          // for a push with resume (FilePushes.resumeFile).
          for (String f : Guests.sh(next, name, "ls -A /tmp/inflight").strip().split("\n")) {
            if (f.equals(".big.bin.vmlet-resume")) {
              keptForResume++;
            } else if (!f.isEmpty()) {
              partialFiles++;
            }
          }
        }
      }
    }
    int expected = vms * cycles;
    Faults.report("daemon killed", String.format(
        "kill -9 of the daemon with %d VMs running, an exec and a push in flight on each, %d cycles: VMs re-adopted %d/%d (same QEMU,"
            + " no guest reboot), agents back %d/%d (%s after the new daemon was started), calls in flight that failed with a status"
            + " %d/%d, partial files at the destinations %d (what arrived was kept hidden for a resume %d times), guest programs"
            + " left running %d, VMs lost 0",
        vms, cycles, readopted, expected, backMs.size(), expected, Faults.medianMax(backMs), failedCleanly, inFlight, partialFiles,
        keptForResume, programsLeft));
    assertThat(readopted).isEqualTo(expected);
    assertThat(failedCleanly).isEqualTo(inFlight);
    assertThat(partialFiles).isZero();
    assertThat(programsLeft).isZero();
  }

  private interface Call {
    void run() throws Exception;
  }

  /** Runs a call in its own thread; the future gets what it threw (null if it returned). */
  private static CompletableFuture<Throwable> inThread(Call call) {
    CompletableFuture<Throwable> f = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        call.run();
        f.complete(null);
      } catch (Throwable e) {
        f.complete(e);
      }
    }, "in-flight");
    t.setDaemon(true);
    t.start();
    return f;
  }

  /**
   * Waits up to 10 s until every guest runs {@code want} copies of a program (by its command line),
   * and returns how many run in all then, or at the 10 s: the caller reports the count, then asserts it.
   */
  private static int waitForGuestPrograms(DaemonClient c, List<String> names, String commandLine, int want) throws Exception {
    int[] total = new int[1];
    try {
      Poll.until(want + " of '" + commandLine + "' in every guest", Duration.ofSeconds(10), () -> {
        total[0] = 0;
        boolean all = true;
        for (String name : names) {
          // The pattern's brackets keep this grep out of its own count.
          String n = Guests.sh(c, name, "ps -o args | grep -c '^[" + commandLine.charAt(0) + "]" + commandLine.substring(1) + "$' || true")
              .strip();
          int count = n.isEmpty() ? 0 : Integer.parseInt(n);
          all &= count == want;
          total[0] += count;
        }
        return all;
      });
    } catch (AssertionError timedOut) {
      // total holds the last count; the caller's report and assertion say how far off it was
    }
    return total[0];
  }
}
