package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.client.ExecClient;
import dev.vmlet.faults.Faults;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.qemu.QemuProcess;
import java.util.List;

/**
 * Fault suite: QEMU frozen with SIGSTOP, so that neither its QMP monitor nor the guest's agent
 * answers. Every call that waits on it must end on the daemon's own deadline (the client's here
 * are far longer): the QMP call with an error, an exec in flight when the agent's heartbeats stop,
 * a stop by its ladder down to SIGKILL. Calls that need no answer from QEMU go on being served.
 * And a QEMU frozen while the daemon restarts is re-adopted once it runs again: never marked
 * CRASHED for being silent, never left running without an owner.
 */
class QemuFreezeFaultIT {
  @TempDir Path tmp;
  private TestDaemon d;
  private long frozenPid;

  @AfterEach
  void close() throws Exception {
    if (frozenPid > 0) {
      signal("CONT", frozenPid);
    }
    if (d != null) {
      d.close();
    }
  }

  /** A daemon of its own and a micro VM on it whose agent is ready. */
  private Vm startReady(String name) throws Exception {
    d = TestDaemon.start(tmp);
    d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(384)).setStart(true).build());
    return Guests.waitReady(d.client, name);
  }

  private static void signal(String sig, long pid) throws Exception {
    assertThat(new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).start().waitFor()).isZero();
  }

  private static long millisSince(long t0) {
    return (System.nanoTime() - t0) / 1_000_000;
  }

  @Test
  void aFrozenQemu_endsEveryWaitingCallOnTheDaemonsDeadline() throws Exception {
    String name = "qf";
    Vm vm = startReady(name);
    VmRef ref = VmRef.newBuilder().setName(name).build();

    // A long program whose first line says it runs; its call has a 10-minute client deadline.
    ExecClient exec = ExecClient.start(d.client.vmsAsync().withDeadlineAfter(10, TimeUnit.MINUTES),
        ExecRequest.newBuilder().setName(name).addAllArgv(List.of("sh", "-c", "echo started; exec sleep 600")).build());
    ExecResponse first = exec.next();
    assertThat(first.getStdout().toStringUtf8()).isEqualTo("started\n");

    signal("STOP", vm.getPid());
    frozenPid = vm.getPid();
    long frozenAt = System.nanoTime();
    CompletableFuture<long[]> execEnd = CompletableFuture.supplyAsync(() -> {
      try {
        while (exec.next() != null) {
          // output produced before the freeze
        }
        return new long[] {millisSince(frozenAt), -1};
      } catch (StatusRuntimeException e) {
        return new long[] {millisSince(frozenAt), e.getStatus().getCode().value()};
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return new long[] {millisSince(frozenAt), -2};
      }
    });

    long t0 = System.nanoTime();
    Status[] pause = new Status[1];
    assertThatThrownBy(() -> d.client.vms().withDeadlineAfter(2, TimeUnit.MINUTES).pauseVm(ref))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> pause[0] = e.getStatus());
    long pauseMs = millisSince(t0);

    t0 = System.nanoTime();
    Vm seen = d.client.vms().withDeadlineAfter(2, TimeUnit.MINUTES).getVm(ref);
    long getMs = millisSince(t0);
    assertThat(seen.getState()).isEqualTo(VmState.RUNNING);

    long[] execResult = execEnd.get(2, TimeUnit.MINUTES);

    t0 = System.nanoTime();
    Vm stopped = d.client.vms().withDeadlineAfter(2, TimeUnit.MINUTES)
        .stopVm(StopVmRequest.newBuilder().setName(name).setTimeoutSeconds(5).build());
    long stopMs = millisSince(t0);
    frozenPid = 0;
    assertThat(stopped.getState()).isEqualTo(VmState.STOPPED);
    assertThat(ProcessHandle.of(vm.getPid()).map(QemuProcess::isRunning).orElse(false)).as("QEMU is gone").isFalse();

    Faults.report("QEMU frozen", String.format("SIGSTOP of QEMU with an exec in flight: PauseVm ended after %d ms with %s (%s);"
            + " GetVm answered in %d ms; the exec ended %d ms after the freeze with %s; StopVm (5 s grace) reached STOPPED"
            + " after %d ms, down to SIGKILL",
        pauseMs, pause[0].getCode(), pause[0].getDescription(), getMs, execResult[0],
        execResult[1] < 0 ? "no error" : Status.fromCodeValue((int) execResult[1]).getCode(), stopMs));
    // The daemon's bounds: QMP 5 s, three missed 5 s heartbeats, the stop ladder (5 + 5 + 3 + 3 s).
    // Each limit here is twice its bound: these are deadlines that must exist, not speed figures.
    assertThat(pause[0].getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    assertThat(pause[0].getDescription()).contains("did not answer QMP stop within 5 s");
    assertThat(pauseMs).isLessThan(10_000);
    assertThat(getMs).isLessThan(2_000);
    assertThat(execResult[1]).as("the exec fails with a status").isEqualTo(Status.Code.UNAVAILABLE.value());
    assertThat(execResult[0]).isLessThan(40_000);
    assertThat(stopMs).isLessThan(40_000);
  }

  @Test
  void aQemuFrozenWhileTheDaemonRestarts_isReadoptedOnceItRunsAgain_notCrashedNorOrphaned() throws Exception {
    String name = "qr";
    Vm vm = startReady(name);
    VmRef ref = VmRef.newBuilder().setName(name).build();
    String bootId = Guests.sh(d.client, name, "cat /proc/sys/kernel/random/boot_id").strip();

    signal("STOP", vm.getPid());
    frozenPid = vm.getPid();
    long t0 = System.nanoTime();
    d = d.restart(() -> { });
    long restartMs = millisSince(t0);
    Vm frozen = d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).getVm(ref);
    assertThat(frozen.getState()).as("a silent QEMU is not a dead one").isEqualTo(VmState.RUNNING);
    assertThat(frozen.getPid()).isEqualTo(vm.getPid());
    assertThat(frozen.getLastError()).startsWith("re-adopting: QEMU pid " + vm.getPid() + " runs but did not answer");

    signal("CONT", vm.getPid());
    frozenPid = 0;
    t0 = System.nanoTime();
    Guests.waitReady(d.client, name);
    long backMs = millisSince(t0);
    Vm adopted = d.client.vms().withDeadlineAfter(30, TimeUnit.SECONDS).getVm(ref);
    assertThat(adopted.getState()).isEqualTo(VmState.RUNNING);
    assertThat(adopted.getPid()).as("the same QEMU").isEqualTo(vm.getPid());
    assertThat(adopted.getLastError()).isEmpty();
    assertThat(Guests.sh(d.client, name, "cat /proc/sys/kernel/random/boot_id").strip()).as("no guest reboot").isEqualTo(bootId);
    Faults.report("QEMU frozen across a daemon restart", String.format("SIGSTOP of QEMU, then a daemon restart: the new daemon"
        + " was up after %d ms with the VM RUNNING (same pid, error '%s'); after SIGCONT the agent was ready again in %d ms,"
        + " same boot, error cleared", restartMs, frozen.getLastError(), backMs));
  }
}
