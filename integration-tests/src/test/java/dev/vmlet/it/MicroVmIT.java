package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.daemon.Daemon;
import dev.vmlet.daemon.DaemonClient;
import dev.vmlet.image.MicroImageBuilder;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walking skeleton end to end with real parts: a real daemon on a real unix socket launches the
 * real micro image in real QEMU (TCG here), the agent phones home over virtio-serial, commands run.
 */
class MicroVmIT {
  @TempDir static Path tmp;
  static VmletPaths paths;
  static Daemon daemon;
  static DaemonClient client;

  @BeforeAll
  static void startDaemon() throws Exception {
    Qemu.assumeInstalled();
    Path agentJar = Path.of(System.getProperty("vmlet.agentJar"));
    // Shares the image cache with ./vmlet so the image is built once per agent version.
    Path cache = VmletPaths.fromEnvironment().cacheDir();
    MicroImageBuilder.build(agentJar, cache.resolve("images/micro"), line -> System.out.println("[image] " + line));
    paths = new VmletPaths(tmp.resolve("state"), tmp.resolve("run"), cache, tmp.resolve("run/vmlet.sock"));
    daemon = Daemon.start(paths, Qemu.BINARY);
    client = new DaemonClient(paths.socket());
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (client != null) {
      client.close();
    }
    if (daemon != null) {
      daemon.close();
    }
  }

  record Result(String stdout, String stderr, int exitCode) {}

  static Result exec(String vm, String... argv) {
    Iterator<ExecResponse> it = client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .exec(ExecRequest.newBuilder().setName(vm).addAllArgv(List.of(argv)).build());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Integer.MIN_VALUE;
    while (it.hasNext()) {
      ExecResponse r = it.next();
      switch (r.getPayloadCase()) {
        case STDOUT -> out.writeBytes(r.getStdout().toByteArray());
        case STDERR -> err.writeBytes(r.getStderr().toByteArray());
        case EXIT -> code = r.getExit().getExitCode();
        default -> { }
      }
    }
    return new Result(out.toString(), err.toString(), code);
  }

  static Vm waitReady(String vm) {
    Vm ready = client.vms().withDeadlineAfter(200, TimeUnit.SECONDS)
        .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(vm).setTimeoutSeconds(180).build());
    System.out.printf("phone-home %s: %d ms after QEMU start (%s)%n", vm,
        ready.getAgentReadyAtUnixMs() - ready.getStartedAtUnixMs(), ready.getAccel());
    return ready;
  }

  @Test
  void microVm_bootsPhonesHomeRunsCommands_andStopsAndDeletesWithoutLeftovers() throws Exception {
    String name = "it-micro";
    Vm vm = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(512)).setStart(true).build());
    assertThat(vm.getState()).isEqualTo(VmState.RUNNING);
    long pid = vm.getPid();
    assertThat(ProcessHandle.of(pid)).hasValueSatisfying(h -> assertThat(h.isAlive()).isTrue());

    Vm ready = waitReady(name);
    assertThat(ready.getAgentReady()).isTrue();
    assertThat(ready.getGuest().getHostname()).isEqualTo(name);
    assertThat(ready.getGuest().getOs()).isEqualTo("Linux");

    assertThat(exec(name, "echo", "hello", "from", "the guest")).isEqualTo(new Result("hello from the guest\n", "", 0));
    assertThat(exec(name, "sh", "-c", "echo to-stderr >&2; exit 3")).isEqualTo(new Result("", "to-stderr\n", 3));
    assertThat(exec(name, "uname", "-s").stdout()).isEqualTo("Linux\n");
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).isEqualTo("cannot start VM 'it-micro': it is RUNNING");
        });
    assertThat(client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build()).getState())
        .isEqualTo(VmState.RUNNING);

    // A daemon restart loses nothing: the new daemon re-adopts QEMU, and the agent says Hello again.
    client.close();
    daemon.close();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isTrue();
    daemon = Daemon.start(paths, Qemu.BINARY);
    client = new DaemonClient(paths.socket());
    Vm adopted = client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
    assertThat(adopted.getState()).isEqualTo(VmState.RUNNING);
    assertThat(adopted.getPid()).isEqualTo(pid);
    waitReady(name);
    assertThat(exec(name, "echo", "still here")).isEqualTo(new Result("still here\n", "", 0));

    // Stop: QEMU goes away, exec is refused naming the state, and the VM can start again.
    Vm stopped = client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .stopVm(StopVmRequest.newBuilder().setName(name).setTimeoutSeconds(10).build());
    assertThat(stopped.getState()).isEqualTo(VmState.STOPPED);
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThatThrownBy(() -> exec(name, "true"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("STOPPED");
        });

    Vm again = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build());
    assertThat(again.getPid()).isNotEqualTo(pid);
    waitReady(name);
    assertThat(exec(name, "cat", "/proc/sys/kernel/hostname").stdout()).isEqualTo(name + "\n");

    // Delete refuses a running VM unless forced, then removes every file of it.
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(10, TimeUnit.SECONDS)
            .deleteVm(DeleteVmRequest.newBuilder().setName(name).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION));
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    assertThat(ProcessHandle.of(again.getPid()).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(paths.vmStateDir(name)).doesNotExist();
    assertThat(paths.vmRunDir(name)).doesNotExist();
    assertThat(noQemuMentions(tmp)).isTrue();
  }

  @Test
  void execOnAVmThatDoesNotExist_isNotFound() {
    assertThatThrownBy(() -> exec("no-such-vm", "true"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
          assertThat(e.getStatus().getDescription()).isEqualTo("no VM named 'no-such-vm' (see: vmlet list)");
        });
  }

  @Test
  void createWithBadInput_isInvalidArgument_andWritesNothing() throws Exception {
    for (VmSpec bad : List.of(VmSpec.newBuilder().setName("../evil").build(),
        VmSpec.newBuilder().setName("ok").setVcpus(1000).build(),
        VmSpec.newBuilder().setName("ok").setMemoryMib(1).build(),
        VmSpec.newBuilder().setName("ok").setMemoryMib(1024 * 1024).build())) {
      assertThatThrownBy(() -> client.vms().withDeadlineAfter(10, TimeUnit.SECONDS)
              .createVm(CreateVmRequest.newBuilder().setSpec(bad).setStart(true).build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }
    Path vms = paths.stateDir().resolve("vms");
    assertThat(!Files.exists(vms) || Files.list(vms).noneMatch(p -> p.getFileName().toString().equals("ok"))).isTrue();
  }

  /** No process on the machine has this test's directory on its command line: no orphaned QEMU. */
  static boolean noQemuMentions(Path dir) {
    return ProcessHandle.allProcesses()
        .noneMatch(p -> p.info().commandLine().map(c -> c.contains("qemu") && c.contains(dir.toString())).orElse(false));
  }
}
