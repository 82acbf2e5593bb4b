package dev.vmlet.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import dev.vmlet.common.testing.Poll;
import com.google.protobuf.ByteString;
import dev.vmlet.client.MetricsText;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.PullFileRequest;
import dev.vmlet.proto.v1.PullFileResponse;
import dev.vmlet.proto.v1.PushFileHeader;
import dev.vmlet.proto.v1.PushFileRequest;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmServiceGrpc;
import dev.vmlet.vm.LifecycleEvent;
import dev.vmlet.vm.VmState;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import java.util.concurrent.CompletableFuture;

/**
 * The gRPC and per-VM call metrics around a fake VmService, in process: what a call does is
 * counted by method, status and VM as the real daemon's services would be.
 */
class CallMetricsTest {
  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final VmActivity activity = new VmActivity(registry);
  private Server server;
  private ManagedChannel channel;
  private VmServiceGrpc.VmServiceBlockingStub vms;
  private VmServiceGrpc.VmServiceStub async;

  /** Exec: exits 0 on "web1", fails UNAVAILABLE elsewhere. Push: takes the bytes. Pull: sends 3 x 1000 bytes. */
  private static final class FakeVms extends VmServiceGrpc.VmServiceImplBase {
    @Override
    public StreamObserver<ExecRequest> exec(StreamObserver<ExecResponse> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(ExecRequest r) {
          if (r.getName().equals("slow")) {
            return; // runs until the client cancels
          }
          if (r.getName().equals("web1")) {
            out.onNext(ExecResponse.newBuilder().setExit(ExecExit.newBuilder().setExitCode(3)).build());
            out.onCompleted();
          } else {
            out.onError(Status.UNAVAILABLE.withDescription("the agent is not connected").asRuntimeException());
          }
        }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onCompleted() { }
      };
    }

    @Override
    public StreamObserver<PushFileRequest> pushFile(StreamObserver<FileTransferResult> out) {
      return new StreamObserver<>() {
        @Override
        public void onNext(PushFileRequest r) { }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onCompleted() {
          out.onNext(FileTransferResult.getDefaultInstance());
          out.onCompleted();
        }
      };
    }

    @Override
    public void pullFile(PullFileRequest r, StreamObserver<PullFileResponse> out) {
      for (int i = 0; i < 3; i++) {
        out.onNext(PullFileResponse.newBuilder().setData(ByteString.copyFrom(new byte[1000])).build());
      }
      out.onCompleted();
    }

    @Override
    public void getVm(VmRef r, StreamObserver<Vm> out) {
      out.onError(Status.NOT_FOUND.withDescription("no VM named '" + r.getName() + "'").asRuntimeException());
    }
  }

  @BeforeEach
  void start() throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(new FakeVms())
        .intercept(new VmCallMetrics(activity, vm -> !vm.equals("ghost")))
        .intercept(new GrpcMetrics(registry)).build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    vms = VmServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
    async = VmServiceGrpc.newStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** A client-side observer that completes with the call's status; replies are dropped. */
  private static final class Ending<T> implements StreamObserver<T> {
    final CompletableFuture<Status> status = new CompletableFuture<>();

    @Override
    public void onNext(T reply) { }

    @Override
    public void onError(Throwable t) {
      status.complete(Status.fromThrowable(t));
    }

    @Override
    public void onCompleted() {
      status.complete(Status.OK);
    }

    Status await() throws Exception {
      return status.get(10, TimeUnit.SECONDS);
    }
  }

  private void exec(String vm) throws Exception {
    Ending<ExecResponse> done = new Ending<>();
    StreamObserver<ExecRequest> in = async.exec(done);
    in.onNext(ExecRequest.newBuilder().setName(vm).addArgv("true").build());
    in.onCompleted();
    done.await();
  }

  @Test
  void execs_areCountedPerVm_withFailuresByStatus_notByTheProgramsExitCode() throws Exception {
    exec("web1");
    exec("web1");
    exec("db");
    exec("ghost"); // no such VM: no series for a name the caller made up

    List<MetricsText.Sample> s = Exposition.samples(registry);
    assertThat(Exposition.value(s, "vmlet_vm_execs_started_total", Map.of("vm", "web1"))).isEqualTo(2);
    assertThat(Exposition.value(s, "vmlet_vm_execs_failed_total", Map.of("vm", "web1"))).isNaN();
    assertThat(Exposition.value(s, "vmlet_vm_execs_failed_total", Map.of("vm", "db"))).isEqualTo(1);
    assertThat(Exposition.value(s, "vmlet_vm_exec_duration_seconds_count", Map.of("vm", "web1"))).isEqualTo(2);
    assertThat(s).noneMatch(x -> x.label("vm").equals("ghost"));
    assertThat(Exposition.value(s, "grpc_server_handled_total", Map.of("grpc_method", "Exec", "grpc_code", "OK",
        "grpc_type", "bidi_stream"))).isEqualTo(2);
    assertThat(Exposition.value(s, "grpc_server_handled_total", Map.of("grpc_method", "Exec", "grpc_code", "UNAVAILABLE")))
        .isEqualTo(2);
    assertThat(Exposition.value(s, "grpc_server_started_total", Map.of("grpc_service", "vmlet.v1.VmService", "grpc_method", "Exec")))
        .isEqualTo(4);
  }

  @Test
  void anExecTheCallerCancels_isTimed_butIsNoFailure() throws Exception {
    Ending<ExecResponse> done = new Ending<>();
    StreamObserver<ExecRequest> in = async.exec(done);
    in.onNext(ExecRequest.newBuilder().setName("slow").addArgv("sleep").addArgv("1000").build());
    in.onError(Status.CANCELLED.withDescription("Ctrl-C").asRuntimeException());
    assertThat(done.await().getCode()).isEqualTo(Status.Code.CANCELLED);

    // The server hears of the cancel on its own thread.
    List<MetricsText.Sample> s = Poll.forValue("the cancelled exec to be timed", Duration.ofSeconds(10), () -> {
      List<MetricsText.Sample> now = Exposition.samples(registry);
      return Double.isNaN(Exposition.value(now, "vmlet_vm_exec_duration_seconds_count", Map.of("vm", "slow"))) ? null : now;
    });
    assertThat(Exposition.value(s, "vmlet_vm_exec_duration_seconds_count", Map.of("vm", "slow"))).isEqualTo(1);
    assertThat(Exposition.value(s, "vmlet_vm_execs_failed_total", Map.of("vm", "slow"))).isNaN();
    assertThat(Exposition.value(s, "grpc_server_handled_total", Map.of("grpc_method", "Exec", "grpc_code", "CANCELLED"))).isEqualTo(1);
  }

  @Test
  void fileBytes_areCountedEachWay() throws Exception {
    Ending<FileTransferResult> pushed = new Ending<>();
    StreamObserver<PushFileRequest> push = async.pushFile(pushed);
    push.onNext(PushFileRequest.newBuilder().setHeader(PushFileHeader.newBuilder().setName("web1").setPath("/tmp/x")).build());
    push.onNext(PushFileRequest.newBuilder().setData(ByteString.copyFrom(new byte[4000])).build());
    push.onNext(PushFileRequest.newBuilder().setData(ByteString.copyFrom(new byte[96])).build());
    push.onCompleted();
    assertThat(pushed.await().isOk()).isTrue();
    Iterator<PullFileResponse> pull = vms.pullFile(PullFileRequest.newBuilder().setName("web1").setPath("/tmp/x").build());
    pull.forEachRemaining(r -> { });

    List<MetricsText.Sample> s = Exposition.samples(registry);
    assertThat(Exposition.value(s, "vmlet_vm_pushed_bytes_total", Map.of("vm", "web1"))).isEqualTo(4096);
    assertThat(Exposition.value(s, "vmlet_vm_pulled_bytes_total", Map.of("vm", "web1"))).isEqualTo(3000);
    assertThat(Exposition.value(s, "grpc_server_handled_total", Map.of("grpc_method", "PushFile", "grpc_type", "client_stream",
        "grpc_code", "OK"))).isEqualTo(1);
    assertThat(Exposition.value(s, "grpc_server_handled_total", Map.of("grpc_method", "PullFile", "grpc_type", "server_stream",
        "grpc_code", "OK"))).isEqualTo(1);
  }

  @Test
  void unaryErrors_areCountedWithTheirCode_andTimed() throws Exception {
    assertThatThrownBy(() -> vms.getVm(VmRef.newBuilder().setName("nope").build())).isInstanceOf(StatusRuntimeException.class);

    List<MetricsText.Sample> s = Exposition.samples(registry);
    assertThat(Exposition.value(s, "grpc_server_handled_total", Map.of("grpc_method", "GetVm", "grpc_code", "NOT_FOUND",
        "grpc_type", "unary"))).isEqualTo(1);
    assertThat(Exposition.value(s, "grpc_server_handling_seconds_count", Map.of("grpc_method", "GetVm"))).isEqualTo(1);
  }

  @Test
  void agentReconnects_countLinksThatCameBack_notStopsAndStarts_andADeletedVmsSeriesGo() throws Exception {
    activity.on(event("web1", LifecycleEvent.Kind.AGENT_CONNECTED, VmState.RUNNING)); // first boot
    activity.on(event("web1", LifecycleEvent.Kind.AGENT_LOST, VmState.RUNNING));      // agent restarted
    activity.on(event("web1", LifecycleEvent.Kind.AGENT_CONNECTED, VmState.RUNNING));
    activity.on(event("web1", LifecycleEvent.Kind.AGENT_LOST, VmState.RUNNING));      // a stop
    activity.on(event("web1", LifecycleEvent.Kind.STATE_CHANGED, VmState.STOPPED));
    activity.on(event("web1", LifecycleEvent.Kind.STATE_CHANGED, VmState.STARTING));
    activity.on(event("web1", LifecycleEvent.Kind.AGENT_CONNECTED, VmState.RUNNING)); // the next boot

    assertThat(Exposition.value(Exposition.samples(registry), "vmlet_vm_agent_reconnects_total", Map.of("vm", "web1"))).isEqualTo(1);

    exec("web1");
    activity.on(event("web1", LifecycleEvent.Kind.DELETED, VmState.STOPPED));
    assertThat(Exposition.samples(registry)).noneMatch(x -> x.label("vm").equals("web1"));
  }

  private static LifecycleEvent event(String vm, LifecycleEvent.Kind kind, VmState state) {
    return new LifecycleEvent(0, vm, kind, state, "");
  }
}
