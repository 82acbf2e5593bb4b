package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.daemon.Daemon;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.qemu.QemuProcess;
import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.ConsoleInput;
import dev.vmlet.proto.v1.ConsoleOutput;
import dev.vmlet.proto.v1.CreateVmRequest;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.PortForward;
import dev.vmlet.proto.v1.ResizeDiskRequest;
import dev.vmlet.proto.v1.Snapshot;
import dev.vmlet.proto.v1.SnapshotRequest;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.VmState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.proto.v1.CloudInit;
import dev.vmlet.proto.v1.Firmware;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.Machine;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.qemu.QemuSandbox;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The walking skeleton end to end with real parts: a real daemon on a real unix socket launches the
 * real micro image in real QEMU (TCG here), the agent phones home over virtio-serial, commands run.
 */
class MicroVmIT {
  @TempDir static Path tmp;
  static VmletPaths paths;
  static Daemon daemon;
  static DaemonClient client;

  static TestDaemon testDaemon;

  @BeforeAll
  static void startDaemon() throws Exception {
    testDaemon = TestDaemon.start(tmp);
    paths = testDaemon.paths;
    daemon = testDaemon.daemon;
    client = testDaemon.client;
  }

  @AfterAll
  static void stopDaemon() throws Exception {
    if (testDaemon != null) {
      testDaemon.close();
    }
  }

  static Guests.Result exec(String vm, String... argv) {
    return Guests.exec(client, vm, argv);
  }

  static Vm waitReady(String vm) {
    return Guests.waitReady(client, vm);
  }

  @Test
  void microVm_bootsPhonesHomeRunsCommands_andStopsAndDeletesWithoutLeftovers() throws Exception {
    String name = "it-micro";
    // A raw base image with known first bytes; it must come out of the test unchanged.
    Path base = tmp.resolve("base.raw");
    byte[] baseBytes = new byte[4 << 20];
    System.arraycopy("BASE-CONTENT".getBytes(), 0, baseBytes, 0, 12);
    Files.write(base, baseBytes);
    Vm vm = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(512)
            .addForwards(PortForward.newBuilder().setGuestPort(80))
            .addDisks(DiskSpec.newBuilder().setName("data").setSizeMib(64))
            .addDisks(DiskSpec.newBuilder().setName("scratch").setBaseImage(base.toString()).setEphemeral(true)))
        .setStart(true).build());
    assertThat(vm.getState()).isEqualTo(VmState.RUNNING);
    // SeaBIOS: QEMU loads the ELF kernel and enters it at its PVH entry (no bzImage decompressor).
    assertThat(vm.getQemuCommand()).contains("-kernel " + TestDaemon.microImage().resolve("vmlinux") + " ");
    long pid = vm.getPid();
    // QEMU runs under its seccomp filter (mode 2) where the build has one.
    if (!QemuSandbox.options(Qemu.BINARY).isEmpty()) {
      assertThat(Files.readAllLines(Path.of("/proc/" + pid + "/status"))).contains("Seccomp:\t2");
      assertThat(vm.getQemuCommand()).contains("-sandbox " + QemuSandbox.OPTIONS);
    }
    // QEMU holds only its own files: none of the daemon's (its jars, its API socket), no pipe to it.
    try (var fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
      List<String> targets = fds.map(f -> {
        try {
          return Files.readSymbolicLink(f).toString();
        } catch (IOException e) {
          return "";
        }
      }).toList();
      assertThat(targets).noneMatch(t -> t.endsWith(".jar") || t.endsWith("vmlet.sock") || t.startsWith("pipe:"));
      assertThat(targets).anyMatch(t -> t.endsWith("qemu.log"));
    }
    // A root daemon's QEMU runs as its own user from the start: no capabilities, no_new_privs, and
    // the files it writes are that user's; the VM's record stays the daemon's.
    if ("root".equals(System.getProperty("user.name"))) {
      List<String> status = Files.readAllLines(Path.of("/proc/" + pid + "/status"));
      int uid = (Integer) Files.getAttribute(Path.of("/proc/" + pid), "unix:uid");
      var user = QemuSandbox.user().orElseThrow();
      assertThat(uid).isEqualTo(user.uid()).isNotZero();
      assertThat(status).contains("Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid, "NoNewPrivs:\t1", "CapEff:\t0000000000000000",
          "CapPrm:\t0000000000000000");
      assertThat(vm.getQemuCommand()).startsWith("/usr/bin/setpriv --reuid=" + uid + " ").doesNotContain("-runas")
          .contains("elevateprivileges=deny");
      Path state = paths.vmStateDir(name);
      assertThat(Files.getAttribute(state.resolve("agent-token"), "unix:uid")).isEqualTo(uid);
      assertThat(Files.getAttribute(paths.vmRunDir(name).resolve("qmp.sock"), "unix:uid")).isEqualTo(uid);
      try (var disks = Files.list(state.resolve("disks"))) {
        assertThat(disks.toList()).isNotEmpty().allSatisfy(d -> assertThat(Files.getAttribute(d, "unix:uid")).isEqualTo(uid));
      }
      assertThat(Files.getAttribute(state.resolve("vm.json"), "unix:uid")).isEqualTo(0);
    }
    assertThat(ProcessHandle.of(pid)).hasValueSatisfying(h -> assertThat(h.isAlive()).isTrue());

    Vm ready = waitReady(name);
    assertThat(ready.getAgentReady()).isTrue();
    assertThat(ready.getGuest().getHostname()).isEqualTo(name);
    assertThat(ready.getGuest().getOs()).isEqualTo("Linux");

    assertThat(exec(name, "echo", "hello", "from", "the guest")).isEqualTo(new Guests.Result("hello from the guest\n", "", 0));
    assertThat(exec(name, "sh", "-c", "echo to-stderr >&2; exit 3")).isEqualTo(new Guests.Result("", "to-stderr\n", 3));
    assertThat(exec(name, "uname", "-s").stdout()).isEqualTo("Linux\n");
    // The agent's JVM (the exec's parent) mapped its class-data archive, the image's only one: an
    // archive the JVM ignores (-Xshare:auto says nothing) costs 1.3 s of JVM start under TCG.
    String cds = exec(name, "sh", "-c", "grep -c /opt/vmlet/agent.jsa /proc/$PPID/maps; ls /opt/vmlet/runtime/lib/server").stdout();
    assertThat(Integer.parseInt(cds.lines().findFirst().orElseThrow())).as(cds).isPositive();
    assertThat(cds).doesNotContain("classes.jsa");
    // The image's modules carry no signature, whose check was most of init's time under TCG; the
    // kernel loads them and marks each 'E' (unsigned).
    assertThat(exec(name, "cat", "/sys/module/virtio_net/taint").stdout()).contains("E");

    // User-mode networking: a web server in the guest answers on the host port vmlet chose.
    int hostPort = vm.getForwards(0).getHostPort();
    assertThat(hostPort).isPositive();
    assertThat(vm.getForwardsList()).extracting(PortForward::getGuestPort).containsExactly(80, 22);
    assertThat(vm.getSshHost()).isEqualTo("127.0.0.1");
    assertThat(vm.getSshPort()).isPositive().isNotEqualTo(hostPort);
    assertThat(exec(name, "sh", "-c", "mkdir -p /tmp/www && echo served-by-guest > /tmp/www/index.html && httpd -p 80 -h /tmp/www")
        .exitCode()).isZero();
    assertThat(httpGet(hostPort)).contains("served-by-guest");

    // The serial console: a shell there answers what is typed; the output is also in the log.
    assertThat(consoleRoundTrip(name, "echo console-$((6*7))\n", "console-42")).isTrue();
    assertThat(Files.readString(paths.vmStateDir(name).resolve("console.log"))).contains("console-42");
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).isEqualTo("cannot start VM 'it-micro': it is RUNNING");
        });
    assertThat(client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build()).getState())
        .isEqualTo(VmState.RUNNING);

    // Pause freezes the guest: exec is refused naming the state; resume brings it back.
    assertThat(client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).pauseVm(VmRef.newBuilder().setName(name).build()).getState())
        .isEqualTo(VmState.PAUSED);
    assertThatThrownBy(() -> exec(name, "true"))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getDescription()).isEqualTo("cannot exec in VM 'it-micro': it is PAUSED"));
    assertThat(client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).resumeVm(VmRef.newBuilder().setName(name).build()).getState())
        .isEqualTo(VmState.RUNNING);
    assertThat(exec(name, "echo", "resumed").stdout()).isEqualTo("resumed\n");

    // A daemon restart loses nothing: the new daemon re-adopts QEMU, and the agent says Hello again.
    testDaemon = testDaemon.restart(
        () -> assertThat(ProcessHandle.of(pid).map(QemuProcess::isRunning).orElse(false)).isTrue());
    daemon = testDaemon.daemon;
    client = testDaemon.client;
    Vm adopted = client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
    assertThat(adopted.getState()).isEqualTo(VmState.RUNNING);
    assertThat(adopted.getPid()).isEqualTo(pid);
    waitReady(name);
    assertThat(exec(name, "echo", "still here")).isEqualTo(new Guests.Result("still here\n", "", 0));

    // Watch events from here on; a reset makes the agent phone home again from a new boot.
    VmWatch events = VmWatch.open(client, name);
    String bootBefore = exec(name, "cat", "/proc/sys/kernel/random/boot_id").stdout();
    client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).rebootVm(VmRef.newBuilder().setName(name).build());
    VmEvent reconnected = events.await(VmEvent.Kind.AGENT_CONNECTED, Duration.ofSeconds(120));
    assertThat(reconnected.getMessage()).doesNotContain(bootBefore.strip());
    assertThat(exec(name, "cat", "/proc/sys/kernel/random/boot_id").stdout()).isNotEqualTo(bootBefore);

    // Disks: vda is the blank persistent one, vdb the ephemeral overlay over the base. Write both.
    assertThat(exec(name, "head", "-c", "12", "/dev/vdb").stdout()).isEqualTo("BASE-CONTENT");
    assertThat(exec(name, "sh", "-c", "echo DATA-MARK | dd of=/dev/vda conv=sync 2>/dev/null && "
        + "echo SCRATCH-MARK | dd of=/dev/vdb conv=sync 2>/dev/null && sync").exitCode()).isZero();
    assertThat(exec(name, "head", "-c", "12", "/dev/vdb").stdout()).isEqualTo("SCRATCH-MARK");
    // Growing a disk while the VM runs: the guest sees the new size at once; shrinking is refused.
    Vm grown = client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .resizeDisk(ResizeDiskRequest.newBuilder().setName(name).setDisk("data").setSizeMib(128).build());
    assertThat(grown.getSpec().getDisks(0).getSizeMib()).isEqualTo(128);
    assertThat(exec(name, "cat", "/sys/block/vda/size").stdout()).isEqualTo((128 * 2048) + "\n");
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
            .resizeDisk(ResizeDiskRequest.newBuilder().setName(name).setDisk("data").setSizeMib(64).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getDescription()).contains("disks only grow"));

    // A snapshot with memory: state in guest RAM (a tmpfs file) comes back on restore.
    assertThat(exec(name, "sh", "-c", "echo before > /tmp/state").exitCode()).isZero();
    long t0 = System.nanoTime();
    Snapshot snap = client.vms().withDeadlineAfter(5, TimeUnit.MINUTES)
        .createSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("s1").build());
    System.out.printf("snapshot with memory: %d ms, %d MiB of state%n", (System.nanoTime() - t0) / 1_000_000,
        snap.getVmStateBytes() >> 20);
    assertThat(snap.getVmStateBytes()).isPositive();
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
            .createSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("s1").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.ALREADY_EXISTS));
    assertThat(exec(name, "sh", "-c", "echo after > /tmp/state").exitCode()).isZero();
    client.vms().withDeadlineAfter(5, TimeUnit.MINUTES)
        .restoreSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("s1").build());
    assertThat(exec(name, "cat", "/tmp/state").stdout()).isEqualTo("before\n");
    assertThat(client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
            .deleteSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("s1").build()).getSnapshotsList())
        .isEmpty();
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
            .restoreSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("s1").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));

    // Stop: QEMU goes away, exec is refused naming the state, and the VM can start again.
    Vm stopped = client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .stopVm(StopVmRequest.newBuilder().setName(name).setTimeoutSeconds(10).build());
    assertThat(stopped.getState()).isEqualTo(VmState.STOPPED);
    assertThat(ProcessHandle.of(pid).map(QemuProcess::isRunning).orElse(false)).isFalse();
    assertThatThrownBy(() -> exec(name, "true"))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
          assertThat(e.getStatus().getDescription()).contains("STOPPED");
        });

    // A stopped VM gets a disk-only snapshot, through qemu-img.
    Snapshot offline = client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .createSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("offline-1").build());
    assertThat(offline.getVmStateBytes()).isZero();
    assertThat(client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).listSnapshots(VmRef.newBuilder().setName(name).build())
        .getSnapshotsList()).extracting(Snapshot::getName).containsExactly("offline-1");
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS)
        .deleteSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("offline-1").build());

    Vm again = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).startVm(VmRef.newBuilder().setName(name).build());
    assertThat(again.getPid()).isNotEqualTo(pid);
    waitReady(name);
    assertThat(exec(name, "cat", "/proc/sys/kernel/hostname").stdout()).isEqualTo(name + "\n");
    // The persistent disk kept what was written; the ephemeral one is the base again; the base was never written.
    assertThat(exec(name, "head", "-c", "9", "/dev/vda").stdout()).isEqualTo("DATA-MARK");
    assertThat(exec(name, "head", "-c", "12", "/dev/vdb").stdout()).isEqualTo("BASE-CONTENT");
    assertThat(Files.readAllBytes(base)).isEqualTo(baseBytes);

    // Delete refuses a running VM unless forced.
    assertThatThrownBy(() -> client.vms().withDeadlineAfter(10, TimeUnit.SECONDS)
            .deleteVm(DeleteVmRequest.newBuilder().setName(name).build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class,
            e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION));

    // QEMU killed behind the daemon's back: the VM is reported CRASHED, with the reason.
    events.clear();
    long killedAt = System.nanoTime();
    ProcessHandle.of(again.getPid()).orElseThrow().destroyForcibly();
    events.await(VmEvent.Kind.CRASHED, Duration.ofSeconds(10));
    events.close();
    System.out.printf("CRASHED reported %d ms after kill -9 of QEMU%n", (System.nanoTime() - killedAt) / 1_000_000);
    Vm crashed = client.vms().withDeadlineAfter(10, TimeUnit.SECONDS).getVm(VmRef.newBuilder().setName(name).build());
    assertThat(crashed.getState()).isEqualTo(VmState.CRASHED);
    assertThat(crashed.getLastError()).contains("QEMU exited unexpectedly");

    // Delete removes every file of it.
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).build());
    assertThat(ProcessHandle.of(again.getPid()).map(QemuProcess::isRunning).orElse(false)).isFalse();
    assertThat(paths.vmStateDir(name)).doesNotExist();
    assertThat(paths.vmRunDir(name)).doesNotExist();
    assertThat(noQemuMentions(tmp)).isTrue();
  }

  /** Types a line into the console and waits for the expected text to come back. */
  static boolean consoleRoundTrip(String vm, String line, String expected) throws Exception {
    StringBuffer seen = new StringBuffer();
    CountDownLatch found = new CountDownLatch(1);
    StreamObserver<ConsoleInput> in = client.vmsAsync().openConsole(new StreamObserver<>() {
      @Override
      public void onNext(ConsoleOutput out) {
        seen.append(out.getData().toStringUtf8());
        if (seen.indexOf(expected) >= 0) {
          found.countDown();
        }
      }

      @Override
      public void onError(Throwable t) {
        seen.append("[error: ").append(t).append(']');
      }

      @Override
      public void onCompleted() { }
    });
    in.onNext(ConsoleInput.newBuilder().setName(vm).setData(ByteString.copyFromUtf8("\n" + line)).build());
    boolean ok = found.await(30, TimeUnit.SECONDS);
    in.onCompleted();
    if (!ok) {
      System.out.println("console said: " + seen);
    }
    return ok;
  }

  static String httpGet(int port) throws Exception {
    try (Socket sock = new Socket()) {
      sock.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
      sock.setSoTimeout(20_000);
      sock.getOutputStream().write("GET /index.html HTTP/1.0\r\n\r\n".getBytes());
      return new String(sock.getInputStream().readAllBytes());
    }
  }

  @Test
  void uefiVm_bootsThroughOvmf_andSnapshotsIncludeItsMemory() throws Exception {
    String name = "it-uefi";
    Vm vm = client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setFirmware(Firmware.FIRMWARE_UEFI).addDisks(DiskSpec.newBuilder().setName("d").setSizeMib(16)))
        .setStart(true).build());
    // OVMF loads no ELF kernel: the bzImage, beside the image's vmlinux.
    assertThat(vm.getQemuCommand()).contains("-kernel " + TestDaemon.microImage().resolve("vmlinuz") + " ");
    waitReady(name);
    assertThat(exec(name, "sh", "-c", "test -d /sys/firmware/efi && echo uefi").stdout()).isEqualTo("uefi\n");
    assertThat(paths.vmStateDir(name).resolve("uefi-vars.qcow2")).exists();
    Snapshot s = client.vms().withDeadlineAfter(5, TimeUnit.MINUTES)
        .createSnapshot(SnapshotRequest.newBuilder().setName(name).setSnapshot("u1").build());
    assertThat(s.getVmStateBytes()).isPositive();
    client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
    assertThat(paths.vmStateDir(name)).doesNotExist();
  }

  @Test
  void theHost_isRefusedInLines_unlessTheDaemonAllowsIt() {
    assertThatThrownBy(() -> client.vms().runCommandLine(RunCommandLineRequest.newBuilder()
        .setLine("@host true").build()).hasNext())
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
          assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
          assertThat(e.getStatus().getDescription()).contains("column 1").contains("--allow-host-exec");
        });
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
        VmSpec.newBuilder().setName("ok").setMemoryMib(1024 * 1024).build(),
        VmSpec.newBuilder().setName("ok").addDisks(DiskSpec.newBuilder().setName("d").setBaseImage("/no/such/base.qcow2")).build(),
        VmSpec.newBuilder().setName("ok").addDisks(DiskSpec.newBuilder().setName("d")).build(),
        VmSpec.newBuilder().setName("ok").setKernel(KernelBoot.newBuilder().setPath("/no/such/vmlinuz")).build(),
        VmSpec.newBuilder().setName("ok").setImage("disk").build(),
        VmSpec.newBuilder().setName("ok").setImage("ubuntu").build(),
        VmSpec.newBuilder().setName("ok").setMachine(Machine.MACHINE_MICROVM).setFirmware(Firmware.FIRMWARE_UEFI).build(),
        VmSpec.newBuilder().setName("ok").setTap("tap0").addForwards(PortForward.newBuilder().setHostPort(8080).setGuestPort(80)).build(),
        VmSpec.newBuilder().setName("ok").addGpus("not-a-pci-address").build(),
        VmSpec.newBuilder().setName("ok").setImage("/no/such/cloud.qcow2").build(),
        VmSpec.newBuilder().setName("ok").setImage(tmp.toString()).build(),
        VmSpec.newBuilder().setName("ok").setImage("/etc/hostname").build(),
        VmSpec.newBuilder().setName("ok").setImage("debian").setCloudInit(CloudInit.newBuilder()
            .setUserData("#cloud-config\nruncmd: [unclosed\n")).build(),
        VmSpec.newBuilder().setName("ok").setImage("debian").setCloudInit(CloudInit.newBuilder()
            .setUserData("just some text")).build(),
        VmSpec.newBuilder().setName("ok").setCloudInit(CloudInit.newBuilder().setUserData("#!/bin/sh\n")).build())) {
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
