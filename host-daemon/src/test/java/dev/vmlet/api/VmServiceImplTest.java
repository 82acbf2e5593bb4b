package dev.vmlet.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.PortForward;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmServiceGrpc;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.WatchVmsRequest;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.spec.BootImage;
import dev.vmlet.vm.VmManager;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.util.ArrayList;
import java.util.List;

/** The real service in-process over gRPC, on a manager that needs no QEMU (nothing is started). */
class VmServiceImplTest {
  @TempDir Path dir;
  private Server server;
  private ManagedChannel channel;
  private VmServiceGrpc.VmServiceBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    VmletPaths paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("s"));
    VmManager manager = new VmManager(paths, image -> new BootImage(dir.resolve("k"), dir.resolve("i")),
        new AccelProbe("q", dir.resolve("nokvm"), Duration.ofSeconds(1)), "q", Clock.systemUTC());
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(new VmServiceImpl(manager)).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    stub = VmServiceGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private Vm create(String name, String... labels) {
    VmSpec.Builder spec = VmSpec.newBuilder().setName(name);
    for (int i = 0; i < labels.length; i += 2) {
      spec.putLabels(labels[i], labels[i + 1]);
    }
    return stub.withDeadlineAfter(10, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder().setSpec(spec).build());
  }

  private static Status.Code code(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
    throw new AssertionError("the call succeeded");
  }

  @Test
  void createVm_withDefaults_reportsTheFilledSpec() {
    Vm vm = create("web1", "role", "web");
    assertThat(vm.getState()).isEqualTo(VmState.CREATED);
    assertThat(vm.getSpec().getVcpus()).isEqualTo(1);
    assertThat(vm.getSpec().getMemoryMib()).isEqualTo(512);
    assertThat(vm.getSpec().getLabelsMap()).containsEntry("role", "web");
  }

  @Test
  void listVms_filtersByLabelsAndState() {
    create("web1", "role", "web", "zone", "a");
    create("web2", "role", "web", "zone", "b");
    create("db1", "role", "db");
    assertThat(stub.listVms(ListVmsRequest.newBuilder().putLabels("role", "web").build()).getVmsList())
        .extracting(v -> v.getSpec().getName()).containsExactly("web1", "web2");
    assertThat(stub.listVms(ListVmsRequest.newBuilder().putLabels("role", "web").putLabels("zone", "b").build()).getVmsList())
        .extracting(v -> v.getSpec().getName()).containsExactly("web2");
    assertThat(stub.listVms(ListVmsRequest.newBuilder().setState(VmState.RUNNING).build()).getVmsList()).isEmpty();
    assertThat(stub.listVms(ListVmsRequest.newBuilder().setState(VmState.CREATED).build()).getVmsCount()).isEqualTo(3);
  }

  @Test
  void errors_leaveWithTheRightStatusCodes() {
    create("web1");
    assertThat(code(() -> create("web1"))).isEqualTo(Status.Code.ALREADY_EXISTS);
    assertThat(code(() -> create("../x"))).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(() -> stub.createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName("p").addForwards(PortForward.newBuilder().setGuestPort(70000))).build())))
        .isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(code(() -> stub.getVm(VmRef.newBuilder().setName("nope").build()))).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(code(() -> stub.pauseVm(VmRef.newBuilder().setName("web1").build()))).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(code(() -> stub.resumeVm(VmRef.newBuilder().setName("web1").build()))).isEqualTo(Status.Code.FAILED_PRECONDITION);
  }

  @Test
  void deleteVm_ofACreatedVm_removesIt() {
    create("tmp");
    stub.deleteVm(DeleteVmRequest.newBuilder().setName("tmp").build());
    assertThatThrownBy(() -> stub.getVm(VmRef.newBuilder().setName("tmp").build()))
        .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
    assertThat(dir.resolve("state/vms/tmp")).doesNotExist();
  }

  @Test
  void watchVms_firstSendsTheCurrentStateThenWatching() {
    create("a");
    create("b");
    var events = stub.withDeadlineAfter(10, TimeUnit.SECONDS).watchVms(WatchVmsRequest.getDefaultInstance());
    List<VmEvent> first = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      first.add(events.next());
    }
    assertThat(first).extracting(VmEvent::getKind)
        .containsExactly(VmEvent.Kind.CURRENT, VmEvent.Kind.CURRENT, VmEvent.Kind.WATCHING);
    assertThat(first.subList(0, 2)).extracting(VmEvent::getName).containsExactlyInAnyOrder("a", "b");
    assertThat(first.get(0).getState()).isEqualTo(VmState.CREATED);
    assertThat(first.get(0).getAgentReady()).isFalse();
  }

  @Test
  void watchVms_ofAnUnknownName_isNotFound() {
    var events = stub.withDeadlineAfter(10, TimeUnit.SECONDS).watchVms(WatchVmsRequest.newBuilder().setName("nope").build());
    assertThat(code(events::hasNext)).isEqualTo(Status.Code.NOT_FOUND);
  }

  @Test
  void watchVms_ofOneVm_endsAfterItIsDeleted() {
    create("a");
    create("b");
    var events = stub.withDeadlineAfter(10, TimeUnit.SECONDS).watchVms(WatchVmsRequest.newBuilder().setName("a").build());
    assertThat(events.next().getKind()).isEqualTo(VmEvent.Kind.CURRENT);
    assertThat(events.next().getKind()).isEqualTo(VmEvent.Kind.WATCHING);
    stub.withDeadlineAfter(10, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("b").build());
    stub.withDeadlineAfter(10, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName("a").build());
    VmEvent deleted = events.next();
    assertThat(deleted.getName()).isEqualTo("a"); // b's deletion is not a's
    assertThat(deleted.getKind()).isEqualTo(VmEvent.Kind.DELETED);
    assertThat(events.hasNext()).isFalse();
  }
}
