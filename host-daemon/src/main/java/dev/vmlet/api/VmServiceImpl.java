package dev.vmlet.api;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.ConsoleInput;
import dev.vmlet.proto.v1.ConsoleOutput;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.DeleteVmResponse;
import dev.vmlet.proto.v1.DryRunResponse;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.WatchVmsRequest;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.ListSnapshotsResponse;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.ResizeDiskRequest;
import dev.vmlet.proto.v1.Snapshot;
import dev.vmlet.proto.v1.SnapshotRequest;
import dev.vmlet.proto.v1.ListVmsResponse;
import dev.vmlet.proto.v1.StopVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmServiceGrpc;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import dev.vmlet.vm.AgentPrep;
import dev.vmlet.vm.VmManager;
import dev.vmlet.vm.VmView;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.function.Supplier;
import dev.vmlet.client.Nodes;
import dev.vmlet.fleet.Fleet;
import dev.vmlet.host.HostAccess;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.GetGuestInfoResponse;
import dev.vmlet.proto.v1.ListFilesRequest;
import dev.vmlet.proto.v1.ListFilesResponse;
import dev.vmlet.proto.v1.PullFileRequest;
import dev.vmlet.proto.v1.PullFileResponse;
import dev.vmlet.proto.v1.PushFileRequest;
import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.RunCommandLineResponse;
import dev.vmlet.security.Access;
import java.io.IOException;
import java.time.Clock;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.DeleteTemplateResponse;
import dev.vmlet.proto.v1.ListTemplatesRequest;
import dev.vmlet.proto.v1.ListTemplatesResponse;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.TemplateRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.spec.VmConfig;

/** The gRPC face of {@link VmManager}: converts a request, calls the manager, converts the reply. */
public final class VmServiceImpl extends VmServiceGrpc.VmServiceImplBase {
  static final Duration DEFAULT_STOP_TIMEOUT = Duration.ofSeconds(10);
  static final Duration DEFAULT_AGENT_WAIT = Duration.ofSeconds(120);

  private final VmManager manager;
  private final HostAccess host;
  private final Fleet nodes;

  public VmServiceImpl(VmManager manager) {
    this(manager, HostAccess.disabled(), Nodes.NONE);
  }

  public VmServiceImpl(VmManager manager, HostAccess host, Nodes nodes) {
    this(manager, host, Fleet.of(nodes));
  }

  /** @param nodes the other nodes that {@code @node/vm} lines are sent to */
  public VmServiceImpl(VmManager manager, HostAccess host, Fleet nodes) {
    this.host = host;
    this.nodes = nodes;
    this.manager = manager;
  }

  @Override
  public void createVm(CreateVmRequest req, StreamObserver<Vm> out) {
    unary(out, () -> {
      if (!req.getTemplate().isEmpty()) {
        VmSpec s = req.getSpec();
        TemplateProtos.refuseBootFields(s);
        VmConfig asked = VmSpecs.config(s);
        manager.createClone(req.getTemplate(), s.getName(), s.getVcpus(), s.getMemoryMib(), asked.labels(), asked.forwards(),
            req.getStart(), OwnerChecks.owner(Access.CALLER.get()));
        return VmProtos.vm(manager.get(s.getName()));
      }
      manager.create(VmSpecs.config(req.getSpec()), req.getStart(), OwnerChecks.owner(Access.CALLER.get()));
      return VmProtos.vm(manager.get(req.getSpec().getName()));
    });
  }

  @Override
  public void startVm(VmRef req, StreamObserver<Vm> out) {
    unary(out, () -> {
      manager.start(req.getName());
      return VmProtos.vm(manager.get(req.getName()));
    });
  }

  @Override
  public void stopVm(StopVmRequest req, StreamObserver<Vm> out) {
    Duration t = req.getTimeoutSeconds() == 0 ? DEFAULT_STOP_TIMEOUT : Duration.ofSeconds(req.getTimeoutSeconds());
    unary(out, () -> {
      manager.stop(req.getName(), req.getForce(), t);
      return VmProtos.vm(manager.get(req.getName()));
    });
  }

  @Override
  public void deleteVm(DeleteVmRequest req, StreamObserver<DeleteVmResponse> out) {
    unary(out, () -> {
      manager.delete(req.getName(), req.getForce());
      return DeleteVmResponse.getDefaultInstance();
    });
  }

  @Override
  public void getVm(VmRef req, StreamObserver<Vm> out) {
    unary(out, () -> VmProtos.vm(manager.get(req.getName())));
  }

  @Override
  public void listVms(ListVmsRequest req, StreamObserver<ListVmsResponse> out) {
    unary(out, () -> {
      ListVmsResponse.Builder b = ListVmsResponse.newBuilder();
      for (VmView v : manager.list()) {
        Vm vm = VmProtos.vm(v);
        if (VmProtos.matches(vm, req)) {
          b.addVms(vm);
        }
      }
      return b.build();
    });
  }

  @Override
  public void waitAgentReady(WaitAgentReadyRequest req, StreamObserver<Vm> out) {
    Duration t = req.getTimeoutSeconds() == 0 ? DEFAULT_AGENT_WAIT : Duration.ofSeconds(req.getTimeoutSeconds());
    unary(out, () -> {
      try {
        return VmProtos.vm(manager.awaitAgentReady(req.getName(), t));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
      }
    });
  }

  @Override
  public StreamObserver<ExecRequest> exec(StreamObserver<ExecResponse> out) {
    return ExecCalls.exec(manager, out);
  }

  @Override
  public void runCommandLine(RunCommandLineRequest req,
      StreamObserver<RunCommandLineResponse> out) {
    CommandLines.run(manager, host, nodes, req, out);
  }

  @Override
  public void listFiles(ListFilesRequest req, StreamObserver<ListFilesResponse> out) {
    unary(out, () -> ListFilesResponse.newBuilder()
        .addAllEntries(AgentCalls.await(req.getName(), () -> manager.agent(req.getName()).listDir(req.getPath()), 300)
            .stream().map(AgentReplies::dirEntry).toList()).build());
  }

  @Override
  public void getGuestInfo(VmRef req, StreamObserver<GetGuestInfoResponse> out) {
    unary(out, () -> AgentReplies.guestInfo(AgentCalls.await(req.getName(), () -> manager.agent(req.getName()).guestInfo(), 30)));
  }

  @Override
  public StreamObserver<PushFileRequest> pushFile(StreamObserver<FileTransferResult> out) {
    return FileTransfers.push(manager, out);
  }

  @Override
  public void pullFile(PullFileRequest req, StreamObserver<PullFileResponse> out) {
    FileTransfers.pull(manager, req, out);
  }

  @Override
  public void pauseVm(VmRef req, StreamObserver<Vm> out) {
    unary(out, () -> {
      manager.pause(req.getName());
      return VmProtos.vm(manager.get(req.getName()));
    });
  }

  @Override
  public void resumeVm(VmRef req, StreamObserver<Vm> out) {
    unary(out, () -> {
      manager.resume(req.getName());
      return VmProtos.vm(manager.get(req.getName()));
    });
  }

  @Override
  public void rebootVm(VmRef req, StreamObserver<Vm> out) {
    unary(out, () -> {
      manager.reboot(req.getName());
      return VmProtos.vm(manager.get(req.getName()));
    });
  }

  @Override
  public void dryRun(CreateVmRequest req, StreamObserver<DryRunResponse> out) {
    unary(out, () -> {
      VmManager.DryRun d = manager.dryRun(VmSpecs.config(req.getSpec()));
      return DryRunResponse.newBuilder().addAllArgv(d.argv())
          .setCommandLine(QemuCommandBuilder.toShellLine(d.argv())).setAccelReason(d.accelReason()).build();
    });
  }

  @Override
  public void watchVms(WatchVmsRequest req, StreamObserver<VmEvent> out) {
    VmWatches.watch(manager, Clock.systemUTC(), req, out);
  }

  @Override
  public StreamObserver<ConsoleInput> openConsole(StreamObserver<ConsoleOutput> out) {
    GuardedStream<ConsoleOutput> stream = new GuardedStream<>(out);
    return new StreamObserver<>() {
      private VmManager.ConsoleSession session;

      @Override
      public void onNext(ConsoleInput in) {
        try {
          if (session == null) {
            session = manager.openConsole(in.getName(),
                data -> stream.send(ConsoleOutput.newBuilder().setData(ByteString.copyFrom(data)).build()),
                stream::complete);
          }
          if (!in.getData().isEmpty()) {
            session.link().write(in.getData().toByteArray());
          }
        } catch (RuntimeException e) {
          detach();
          stream.fail(VmProtos.status(e));
        } catch (IOException e) {
          detach();
          stream.fail(Status.UNAVAILABLE.withDescription("console write failed: " + e.getMessage()).asRuntimeException());
        }
      }

      @Override
      public void onError(Throwable t) {
        detach();
      }

      @Override
      public void onCompleted() {
        detach();
        stream.complete();
      }

      private void detach() {
        if (session != null) {
          try {
            session.detach().close();
          } catch (Exception ignored) {
            // detaching cannot fail
          }
        }
      }
    };
  }

  @Override
  public void resizeDisk(ResizeDiskRequest req, StreamObserver<Vm> out) {
    unary(out, () -> {
      manager.resizeDisk(req.getName(), req.getDisk(), req.getSizeMib());
      return VmProtos.vm(manager.get(req.getName()));
    });
  }

  @Override
  public void createSnapshot(SnapshotRequest req, StreamObserver<Snapshot> out) {
    unary(out, () -> VmProtos.snapshot(manager.createSnapshot(req.getName(), req.getSnapshot())));
  }

  @Override
  public void listSnapshots(VmRef req, StreamObserver<ListSnapshotsResponse> out) {
    unary(out, () -> VmProtos.snapshots(manager.listSnapshots(req.getName())));
  }

  @Override
  public void restoreSnapshot(SnapshotRequest req, StreamObserver<Vm> out) {
    unary(out, () -> {
      manager.restoreSnapshot(req.getName(), req.getSnapshot());
      return VmProtos.vm(manager.get(req.getName()));
    });
  }

  @Override
  public void deleteSnapshot(SnapshotRequest req, StreamObserver<ListSnapshotsResponse> out) {
    unary(out, () -> {
      manager.deleteSnapshot(req.getName(), req.getSnapshot());
      return VmProtos.snapshots(manager.listSnapshots(req.getName()));
    });
  }

  @Override
  public void createTemplate(CreateTemplateRequest req, StreamObserver<Template> out) {
    unary(out, () -> TemplateProtos.template(manager.createTemplate(req.getVm(), req.getName(), AgentPrep.of(req.getSkipAgentSetup(), req.getSkipWarmUp()))));
  }

  @Override
  public void listTemplates(ListTemplatesRequest req, StreamObserver<ListTemplatesResponse> out) {
    unary(out, () -> ListTemplatesResponse.newBuilder()
        .addAllTemplates(manager.listTemplates().stream().map(TemplateProtos::template).toList()).build());
  }

  @Override
  public void getTemplate(TemplateRef req, StreamObserver<Template> out) {
    unary(out, () -> TemplateProtos.template(manager.getTemplate(req.getName())));
  }

  @Override
  public void deleteTemplate(TemplateRef req, StreamObserver<DeleteTemplateResponse> out) {
    unary(out, () -> {
      manager.deleteTemplate(req.getName());
      return DeleteTemplateResponse.getDefaultInstance();
    });
  }

  private static <T> void unary(StreamObserver<T> out, Supplier<T> body) {
    T reply;
    try {
      reply = body.get();
    } catch (RuntimeException e) {
      out.onError(VmProtos.status(e));
      return;
    }
    out.onNext(reply);
    out.onCompleted();
  }
}
