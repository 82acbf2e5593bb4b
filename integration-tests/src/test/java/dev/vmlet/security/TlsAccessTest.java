package dev.vmlet.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.config.VmletPaths;
import dev.vmlet.client.DaemonClient;
import dev.vmlet.daemon.DaemonServer;
import dev.vmlet.client.Nodes;
import dev.vmlet.host.HostAccess;
import dev.vmlet.host.HostAgent;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.VmServiceGrpc;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.spec.BootImage;
import dev.vmlet.vm.VmManager;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.guest.AgentMain;
import dev.vmlet.proto.v1.GpuRequest;
import dev.vmlet.proto.v1.RunCommandLineResponse;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;

/** The TCP listener with mutual TLS and roles: a real daemon server, real certificates, no VM. */
class TlsAccessTest {
  @TempDir static Path dir;
  static NodePki pki;
  static DaemonServer server;
  static HostAccess host;
  static InetSocketAddress address;
  static Path audit;

  @BeforeAll
  static void start() throws Exception {
    pki = new NodePki(dir.resolve("pki"));
    pki.init(List.of());
    for (Role r : Role.values()) {
      pki.issueClient(r.label(), r, Duration.ofDays(1));
    }
    pki.issueClient("old", Role.ADMIN, Instant.now().minusSeconds(7200), Instant.now().minusSeconds(3600));
    VmletPaths paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
    VmManager manager = new VmManager(paths, name -> new BootImage(dir.resolve("vmlinuz"), dir.resolve("initrd.img")),
        new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "/nonexistent/qemu", Clock.systemUTC());
    String java = ProcessHandle.current().info().command().orElse("java");
    host = new HostAccess(List.of(), HostAgent.start(List.of(java, "-cp", System.getProperty("java.class.path"),
        AgentMain.class.getName()), dir.resolve("run/host-agent.sock"), Duration.ofSeconds(1)));
    audit = dir.resolve("state/audit.log");
    server = new DaemonServer(paths.socket(), manager, host, Nodes.NONE, new AuditLog(audit),
        new DaemonServer.Tls(new InetSocketAddress("127.0.0.1", 0), pki), 3);
    server.start();
    address = new InetSocketAddress("127.0.0.1", server.tlsPort());
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
    host.close();
  }

  static DaemonClient as(String name) throws Exception {
    return as(pki, name);
  }

  static DaemonClient as(NodePki from, String name) throws Exception {
    return new DaemonClient(address, from.clientCert(name), from.clientKey(name), pki.caCert());
  }

  static String run(DaemonClient c, String line) {
    StringBuilder out = new StringBuilder();
    c.vms().withDeadlineAfter(30, TimeUnit.SECONDS).runCommandLine(RunCommandLineRequest.newBuilder().setLine(line).build())
        .forEachRemaining(r -> out.append(r.getStdout().toStringUtf8()));
    return out.toString();
  }

  static Status.Code code(Runnable call) {
    try {
      call.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  @Test
  void rolesDecide_whatEachCallerMayDo() throws Exception {
    try (DaemonClient viewer = as("viewer"); DaemonClient operator = as("operator"); DaemonClient admin = as("admin")) {
      assertThat(viewer.vms().listVms(ListVmsRequest.getDefaultInstance()).getVmsList()).isEmpty();
      assertThatThrownBy(() -> viewer.vms().stopVm(StopVmRequest.newBuilder().setName("web1").build()))
          .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(e.getStatus().getDescription()).isEqualTo("StopVm needs the operator role; viewer is viewer");
          });
      // Past the role check: the VM does not exist.
      assertThat(code(() -> operator.vms().stopVm(StopVmRequest.newBuilder().setName("web1").build()))).isEqualTo(Status.Code.NOT_FOUND);
      assertThatThrownBy(() -> run(operator, "@host echo hi")).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
        assertThat(e.getStatus().getDescription()).contains("needs the admin role; operator is operator");
      });
      assertThat(run(admin, "@host echo hi")).isEqualTo("hi\n");
      assertThat(code(() -> viewer.node().passthroughGpu(GpuRequest.newBuilder().setAddress("01:00.0").build())))
          .isEqualTo(Status.Code.PERMISSION_DENIED);
    }
    List<String> lines = Files.readAllLines(audit);
    assertThat(lines).anyMatch(l -> l.contains("caller=viewer role=viewer method=vmlet.v1.VmService/StopVm vm=web1 outcome=PERMISSION_DENIED"));
    assertThat(lines).anyMatch(l -> l.contains("caller=operator role=operator method=vmlet.v1.VmService/StopVm vm=web1 outcome=NOT_FOUND"));
    assertThat(lines).anyMatch(l -> l.contains("caller=admin role=admin method=vmlet.v1.VmService/RunCommandLine vm=- outcome=OK"));
    assertThat(lines).noneMatch(l -> l.contains("ListVms")); // reading is not audited
  }

  @Test
  void withoutACertificate_fromAnotherCa_expired_orRevoked_theHandshakeIsRefused() throws Exception {
    ManagedChannel bare = NettyChannelBuilder.forAddress(address)
        .sslContext(GrpcSslContexts.forClient().trustManager(NodePki.readCert(pki.caCert())).build()).build();
    try {
      assertThat(code(() -> VmServiceGrpc.newBlockingStub(bare).withDeadlineAfter(10, TimeUnit.SECONDS)
          .listVms(ListVmsRequest.getDefaultInstance()))).isEqualTo(Status.Code.UNAVAILABLE);
    } finally {
      bare.shutdownNow();
    }
    NodePki other = new NodePki(dir.resolve("other-pki"));
    other.init(List.of());
    other.issueClient("intruder", Role.ADMIN, Duration.ofDays(1));
    for (DaemonClient refused : List.of(as(other, "intruder"), as("old"))) {
      try (refused) {
        assertThat(code(() -> refused.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance())))
            .isEqualTo(Status.Code.UNAVAILABLE);
      }
    }
    pki.issueClient("leaver", Role.OPERATOR, Duration.ofDays(1));
    try (DaemonClient before = as("leaver")) {
      assertThat(code(() -> before.vms().listVms(ListVmsRequest.getDefaultInstance()))).isEqualTo(Status.Code.OK);
    }
    // The daemon sees a new revocation list by its file time (and size): wait until a file written
    // now gets a time other than the list's, which a file system with 1 s times takes up to a second for.
    Path probe = pki.crl().resolveSibling(".mtime-probe");
    Poll.until("the file system's clock to pass the revocation list's time", Duration.ofSeconds(5), () -> {
      Files.writeString(probe, "");
      return !Files.exists(pki.crl()) || !Files.getLastModifiedTime(probe).equals(Files.getLastModifiedTime(pki.crl()));
    });
    Files.delete(probe);
    pki.revoke("leaver");
    try (DaemonClient after = as("leaver")) {
      assertThat(code(() -> after.vms().withDeadlineAfter(10, TimeUnit.SECONDS).listVms(ListVmsRequest.getDefaultInstance())))
          .isEqualTo(Status.Code.UNAVAILABLE);
    }
  }

  @Test
  void keysAreWrittenForTheOwnerOnly() throws Exception {
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pki.clientKey("admin"))))
        .isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pki.dir().resolve("ca.key"))))
        .isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(pki.serverKey())))
        .isEqualTo("rw-------");
  }

  private static boolean isSleep30(ProcessHandle p) {
    return p.info().command().orElse("").endsWith("/sleep") && List.of("30").equals(List.of(p.info().arguments().orElse(new String[0])));
  }

  @Test
  void aCallerMayHoldOnlySoManyStreams_andMessagesHaveALimit() throws Exception {
    try (DaemonClient admin = as("admin")) {
      List<Context.CancellableContext> held = new ArrayList<>();
      List<CompletableFuture<Status>> ends = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        Context.CancellableContext ctx = Context.current().withCancellation();
        held.add(ctx);
        CompletableFuture<Status> end = new CompletableFuture<>();
        ends.add(end);
        ctx.run(() -> admin.vmsAsync().runCommandLine(RunCommandLineRequest.newBuilder().setLine("@host sleep 30").build(),
            new StreamObserver<>() {
              @Override
              public void onNext(RunCommandLineResponse r) {
              }

              @Override
              public void onError(Throwable t) {
                end.complete(Status.fromThrowable(t));
              }

              @Override
              public void onCompleted() {
                end.complete(Status.OK);
              }
            }));
      }
      // Each call is counted before its program starts: three programs running, three streams held.
      Poll.until("the three '@host sleep 30' to run", Duration.ofSeconds(10),
          () -> ProcessHandle.current().descendants().filter(TlsAccessTest::isSleep30).count() == 3);
      assertThatThrownBy(() -> run(admin, "@host echo one more")).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(e.getStatus().getDescription()).contains("admin has 3 exec, transfer, console or watch streams open");
      });
      held.get(0).cancel(null);
      assertThat(ends.get(0).get(10, TimeUnit.SECONDS).getCode()).isEqualTo(Status.Code.CANCELLED);
      String out = Poll.forValue("a stream to be free once one was cancelled", Duration.ofSeconds(10), () -> {
        try {
          return run(admin, "@host echo freed");
        } catch (StatusRuntimeException e) {
          return null; // the server sees the cancel a moment later
        }
      });
      assertThat(out).isEqualTo("freed\n");
      held.forEach(c -> c.cancel(null));
      assertThatThrownBy(() -> run(admin, "@host echo " + "x".repeat(70_000))).isInstanceOfSatisfying(StatusRuntimeException.class,
          e -> assertThat(e.getStatus().getDescription()).contains("over this method's limit of 65536 bytes"));
    }
  }

  @Test
  void aLineForATcpNode_goesThereOverMutualTls_asTheNodesClient() throws Exception {
    for (String role : List.of("operator", "admin")) {
      Nodes nodes = Nodes.parse("test", List.of("n1 tcp://127.0.0.1:" + address.getPort() + " cert=" + pki.clientCert(role) + " key="
          + pki.clientKey(role) + " ca=" + pki.caCert()));
      VmletPaths paths = new VmletPaths(dir.resolve("front-" + role + "/state"), dir.resolve("front-" + role + "/run"), dir.resolve("cache"),
          dir.resolve("front-" + role + "/run/vmlet.sock"));
      VmManager manager = new VmManager(paths, name -> new BootImage(dir.resolve("vmlinuz"), dir.resolve("initrd.img")),
          new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "/nonexistent/qemu", Clock.systemUTC());
      DaemonServer front = new DaemonServer(paths.socket(), manager, HostAccess.disabled(), nodes, new AuditLog(dir.resolve("front.log")),
          null);
      front.start();
      try (DaemonClient local = new DaemonClient(paths.socket())) {
        if (role.equals("admin")) {
          assertThat(run(local, "@n1/host echo over tls")).isEqualTo("over tls\n");
        } else {
          // The node decides with the role of the certificate this daemon presents there.
          assertThatThrownBy(() -> run(local, "@n1/host echo over tls")).hasMessageContaining("node n1: ")
              .hasMessageContaining("needs the admin role; operator is operator");
        }
      } finally {
        front.close();
      }
    }
  }
}
