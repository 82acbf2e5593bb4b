package dev.vmlet.metrics;

import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * gRPC server metrics per method and status, under the names of go-grpc-prometheus and
 * java-grpc-prometheus ({@code grpc_server_started_total}, {@code grpc_server_handled_total},
 * {@code grpc_server_handling_seconds}), for which dashboards and alerts exist.
 *
 * <p>Why an interceptor and not grpc-java's OpenTelemetry module: that module needs the
 * OpenTelemetry SDK and a bridge into this registry (a second metrics stack in the daemon, with
 * names of its own, {@code grpc_server_call_duration_seconds}); an interceptor is one small class on
 * the Prometheus client already here. Installed outermost, it sees every call's final status,
 * refusals by the access check included.
 */
public final class GrpcMetrics implements ServerInterceptor {
  /** From a cached GetVm (sub-millisecond) to a stop that waits out a guest (tens of seconds). */
  private static final double[] BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

  private final Counter started;
  private final Counter handled;
  private final Histogram seconds;

  public GrpcMetrics(PrometheusRegistry registry) {
    started = Counter.builder().name("grpc_server_started_total").help("RPCs started on the server.")
        .labelNames("grpc_service", "grpc_method", "grpc_type").register(registry);
    handled = Counter.builder().name("grpc_server_handled_total").help("RPCs completed on the server, whatever their status.")
        .labelNames("grpc_service", "grpc_method", "grpc_type", "grpc_code").register(registry);
    seconds = Histogram.builder().name("grpc_server_handling_seconds")
        .help("Time from the start of an RPC to its status: for streams, how long the stream was open.")
        .classicOnly().classicUpperBounds(BUCKETS).labelNames("grpc_service", "grpc_method", "grpc_type").register(registry);
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    MethodDescriptor<Q, A> m = call.getMethodDescriptor();
    String service = String.valueOf(m.getServiceName());
    String method = m.getBareMethodName();
    String type = type(m.getType());
    long start = System.nanoTime();
    started.labelValues(service, method, type).inc();
    AtomicBoolean done = new AtomicBoolean();
    ServerCall<Q, A> watched = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        finish(done, service, method, type, status.getCode(), start);
        super.close(status, trailers);
      }
    };
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(watched, headers)) {
      @Override
      public void onCancel() {
        // The client went away: the service need not close the call, and this is its end.
        finish(done, service, method, type, Status.Code.CANCELLED, start);
        super.onCancel();
      }
    };
  }

  private void finish(AtomicBoolean done, String service, String method, String type, Status.Code code, long start) {
    if (done.compareAndSet(false, true)) {
      handled.labelValues(service, method, type, code.name()).inc();
      seconds.labelValues(service, method, type).observe((System.nanoTime() - start) / 1e9);
    }
  }

  /** go-grpc-prometheus's words for the four kinds of call. */
  static String type(MethodDescriptor.MethodType t) {
    return switch (t) {
      case UNARY -> "unary";
      case CLIENT_STREAMING -> "client_stream";
      case SERVER_STREAMING -> "server_stream";
      case BIDI_STREAMING -> "bidi_stream";
      default -> t.name().toLowerCase(Locale.ROOT);
    };
  }
}
