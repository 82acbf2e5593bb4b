package dev.vmlet.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.daemon.DaemonServer;
import dev.vmlet.client.Nodes;
import dev.vmlet.host.HostAccess;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.spec.BootImage;
import dev.vmlet.vm.VmManager;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.proto.v1.Firmware;
import dev.vmlet.proto.v1.KernelBoot;
import dev.vmlet.proto.v1.ListVmsRequest;

/**
 * Host paths from remote callers (issue 22): a real daemon server with mutual TLS on loopback and
 * certificates of each role, one directory allowed with --allow-path; real qemu-img, no VM is started.
 */
class RemoteHostPathsTest {
  @TempDir static Path dir;
  static NodePki pki;
  static DaemonServer server;
  static InetSocketAddress address;
  static Path audit;
  static Path allowed;
  static Path worldReadable;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(run("qemu-img", "--version") == 0, "needs qemu-img (apt-get install qemu-utils)");
    pki = new NodePki(dir.resolve("pki"));
    pki.init(List.of());
    for (Role r : Role.values()) {
      pki.issueClient(r.label(), r, Duration.ofDays(1));
    }
    allowed = Files.createDirectories(dir.resolve("images"));
    // The issue's file: 2 MiB, mode 0644, anywhere on the host.
    worldReadable = image(dir.resolve("worldread.img"));
    VmletPaths paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
    VmManager manager = new VmManager(paths, name -> new BootImage(dir.resolve("vmlinuz"), dir.resolve("initrd.img")),
        new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "qemu-system-x86_64", Clock.systemUTC());
    audit = dir.resolve("state/audit.log");
    server = new DaemonServer(paths.socket(), manager, HostAccess.disabled(), Nodes.NONE, new AuditLog(audit),
        new DaemonServer.Tls(new InetSocketAddress("127.0.0.1", 0), pki), Access.DEFAULT_STREAMS_PER_CALLER,
        HostPaths.forHost(List.of(allowed), "qemu-img"));
    server.start();
    address = new InetSocketAddress("127.0.0.1", server.tlsPort());
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  static int run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    return p.waitFor(30, TimeUnit.SECONDS) ? p.exitValue() : -1;
  }

  static Path image(Path file) throws Exception {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(2 << 20);
    }
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    return file;
  }

  static DaemonClient as(String role) throws Exception {
    return new DaemonClient(address, pki.clientCert(role), pki.clientKey(role), pki.caCert());
  }

  static CreateVmRequest withBase(String vm, Path base) {
    return CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName(vm)
        .addDisks(DiskSpec.newBuilder().setName("d0").setBaseImage(base.toString()))).build();
  }

  static StatusRuntimeException refused(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("the call was allowed");
  }

  @Test
  void theIssuesScenario_aRemoteOperatorNamingAWorldReadableHostFile_isRefused_andTheRefusalAudited() throws Exception {
    try (DaemonClient operator = as("operator"); DaemonClient viewer = as("viewer")) {
      StatusRuntimeException e = refused(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
          .createVm(withBase("sx2", worldReadable).toBuilder().setStart(true).build()));
      assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(e.getStatus().getDescription()).isEqualTo("spec.disks[0].base_image " + worldReadable + ": host paths from"
          + " remote callers (operator is operator) are refused unless under a directory the node allows (vmlet daemon"
          + " --allow-path DIR; this node allows " + allowed + "); use an image by name (micro, debian), or ask the node's admin");
      assertThat(refused(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).dryRun(withBase("sx2", worldReadable)))
          .getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      assertThat(refused(() -> viewer.vms().withDeadlineAfter(30, TimeUnit.SECONDS).dryRun(withBase("sx2", worldReadable)))
          .getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
      CreateVmRequest kernel = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("k1")
          .setKernel(KernelBoot.newBuilder().setPath(worldReadable.toString()))).build();
      assertThat(refused(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(kernel)).getStatus().getDescription())
          .startsWith("spec.kernel.path " + worldReadable + ": host paths from remote callers");
      assertThat(operator.vms().listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).isEmpty();
    }
    assertThat(Files.readAllLines(audit)).anyMatch(l -> l.endsWith("caller=operator role=operator method=vmlet.v1.VmService/CreateVm"
        + " vm=sx2 outcome=PERMISSION_DENIED paths=spec.disks[0].base_image=" + worldReadable + " paths_decision=denied"))
        .anyMatch(l -> l.endsWith("caller=viewer role=viewer method=vmlet.v1.VmService/DryRun vm=sx2 outcome=PERMISSION_DENIED"
            + " paths=spec.disks[0].base_image=" + worldReadable + " paths_decision=denied"));
  }

  @Test
  void aRemoteOperator_mayNameAnImageUnderAnAllowedDirectory_butNotALinkThereToOutside() throws Exception {
    Path inside = image(allowed.resolve("base.img"));
    Path link = Files.createSymbolicLink(allowed.resolve("escape.img"), worldReadable);
    try (DaemonClient operator = as("operator")) {
      Vm vm = operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(withBase("inside", inside));
      assertThat(vm.getSpec().getDisks(0).getBaseImage()).isEqualTo(inside.toRealPath().toString());
      operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("inside").build());
      assertThat(refused(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(withBase("escape", link)))
          .getStatus().getDescription()).startsWith("spec.disks[0].base_image " + link + ": it resolves to "
              + worldReadable.toRealPath() + ", outside; host paths from remote callers");
    }
    assertThat(Files.readAllLines(audit)).anyMatch(l -> l.endsWith("method=vmlet.v1.VmService/CreateVm vm=inside outcome=OK"
        + " paths=spec.disks[0].base_image=" + inside + " paths_decision=allowed"));
  }

  @Test
  void anImageInAnAllowedDirectory_mayNotReachOutside_throughItsBackingFile() throws Exception {
    Path top = allowed.resolve("overlay.qcow2");
    assertThat(run("qemu-img", "create", "-q", "-f", "qcow2", "-b", worldReadable.toString(), "-F", "raw", top.toString())).isZero();
    try (DaemonClient operator = as("operator")) {
      assertThat(refused(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(withBase("chain", top)))
          .getStatus().getDescription()).startsWith("spec.disks[0].base_image " + top + ": its backing file " + worldReadable
              + ": host paths from remote callers");
    }
  }

  @Test
  void anAdminCertificate_mayNameAnyPath() throws Exception {
    try (DaemonClient admin = as("admin")) {
      Vm vm = admin.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(withBase("anywhere", worldReadable));
      assertThat(vm.getSpec().getDisks(0).getBaseImage()).isEqualTo(worldReadable.toRealPath().toString());
      admin.vms().withDeadlineAfter(30, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("anywhere").build());
    }
  }

  @Test
  void aRemoteOperator_mayNotNameATapOrAGpu() throws Exception {
    try (DaemonClient operator = as("operator")) {
      CreateVmRequest tap = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("t").setTap("tap0")).build();
      assertThat(refused(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(tap)).getStatus().getDescription())
          .startsWith("spec.tap tap0: a TAP device may be named over TCP by the admin role only");
      CreateVmRequest gpu = CreateVmRequest.newBuilder().setSpec(VmSpec.newBuilder().setName("g").addGpus("0000:01:00.0")
          .setFirmware(Firmware.FIRMWARE_UEFI)).build();
      assertThat(refused(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS).createVm(gpu)).getStatus().getCode())
          .isEqualTo(Status.Code.PERMISSION_DENIED);
    }
  }

  @Test
  void anOperatorsLine_mayNotRedirectToOrFromTheHost() throws Exception {
    try (DaemonClient operator = as("operator")) {
      for (String line : List.of("@web1 --info > @host /tmp/web1.txt", "@web1 --info < @host /etc/hostname")) {
        assertThatThrownBy(() -> operator.vms().withDeadlineAfter(30, TimeUnit.SECONDS)
            .runCommandLine(RunCommandLineRequest.newBuilder().setLine(line).build()).forEachRemaining(r -> { }))
            .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
              assertThat(e.getStatus().getCode()).as(line).isEqualTo(Status.Code.PERMISSION_DENIED);
              assertThat(e.getStatus().getDescription()).contains("@host (the daemon's host) needs the admin role; operator is operator");
            });
      }
    }
  }
}
