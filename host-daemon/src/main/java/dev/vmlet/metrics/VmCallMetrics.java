package dev.vmlet.metrics;

import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.PullFileRequest;
import dev.vmlet.proto.v1.PullFileResponse;
import dev.vmlet.proto.v1.PushFileRequest;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.function.Predicate;

/**
 * Counts, per VM, the Exec, PushFile and PullFile calls as they pass: execs started and failed with
 * their durations, and the file bytes in each direction. An interceptor rather than calls in the
 * services: it sees each call's final status wherever it came from, and the services stay as they
 * are. It sits inside the access check, so a refused call is not counted against the VM. Stages of
 * {@code @target} lines (RunCommandLine) are not Exec calls and are counted by the gRPC metrics only.
 */
public final class VmCallMetrics implements ServerInterceptor {
  private final VmActivity activity;
  private final Predicate<String> exists;

  /** @param exists whether a VM of that name exists: calls naming no VM get no series (names are the caller's input) */
  public VmCallMetrics(VmActivity activity, Predicate<String> exists) {
    this.activity = activity;
    this.exists = exists;
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    String method = call.getMethodDescriptor().getBareMethodName();
    if (!"Exec".equals(method) && !"PushFile".equals(method) && !"PullFile".equals(method)) {
      return next.startCall(call, headers);
    }
    Tally tally = new Tally(activity, exists, "Exec".equals(method));
    ServerCall<Q, A> counted = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void sendMessage(A message) {
        if (message instanceof PullFileResponse r && tally.vm != null) {
          activity.pulledBytes.labelValues(tally.vm).inc(r.getData().size());
        }
        super.sendMessage(message);
      }

      @Override
      public void close(Status status, Metadata trailers) {
        tally.end(status);
        super.close(status, trailers);
      }
    };
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(counted, headers)) {
      @Override
      public void onMessage(Q message) {
        tally.saw(message);
        super.onMessage(message);
      }

      @Override
      public void onCancel() {
        // The client went away (Ctrl-C on vmlet exec): the service need not close the call.
        tally.end(Status.CANCELLED);
        super.onCancel();
      }
    };
  }

  /** One call's VM (from its first message) and start; ends once. */
  private static final class Tally {
    private final VmActivity activity;
    private final Predicate<String> exists;
    private final boolean exec;
    private volatile String vm;
    private long startNanos;
    private boolean ended;

    Tally(VmActivity activity, Predicate<String> exists, boolean exec) {
      this.activity = activity;
      this.exists = exists;
      this.exec = exec;
    }

    synchronized void saw(Object message) {
      if (vm == null) {
        String name = nameOf(message);
        vm = name != null && exists.test(name) ? name : null;
        if (vm != null && exec) {
          startNanos = System.nanoTime();
          activity.execsStarted.labelValues(vm).inc();
        }
      }
      if (message instanceof PushFileRequest p && vm != null) {
        activity.pushedBytes.labelValues(vm).inc(p.getData().size());
      }
    }

    synchronized void end(Status status) {
      if (ended || vm == null || !exec) {
        return;
      }
      ended = true;
      activity.execSeconds.labelValues(vm).observe((System.nanoTime() - startNanos) / 1e9);
      // Cancelled by the caller (Ctrl-C): the caller's choice, not a failure.
      if (!status.isOk() && status.getCode() != Status.Code.CANCELLED) {
        activity.execsFailed.labelValues(vm).inc();
      }
    }

    private static String nameOf(Object message) {
      String name = null;
      if (message instanceof ExecRequest r) {
        name = r.getName();
      } else if (message instanceof PushFileRequest r && r.hasHeader()) {
        name = r.getHeader().getName();
      } else if (message instanceof PullFileRequest r) {
        name = r.getName();
      }
      return name == null || name.isEmpty() ? null : name;
    }
  }
}
