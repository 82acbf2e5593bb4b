package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.Frame;
import java.util.function.LongSupplier;

/**
 * The exec frames from the host: ExecStart runs a program on a worker (its stream ends when the
 * program's ExecExit or StreamError has gone out); ExecInput, ExecResize and ExecCancel reach the
 * program of an open exec stream and are dropped otherwise. Stdin counts against the stream's
 * receive window; a host that overruns it fails the stream.
 */
final class ExecRequests {
  private final Streams streams;
  private final GuestPlatform platform;
  private final boolean agentIsRoot;
  /** When the read that brought the frame being handled returned (System.nanoTime), for {@link HopTrace}. */
  private final LongSupplier readNanos;

  ExecRequests(Streams streams, GuestPlatform platform, boolean agentIsRoot, LongSupplier readNanos) {
    this.streams = streams;
    this.platform = platform;
    this.agentIsRoot = agentIsRoot;
    this.readNanos = readNanos;
  }

  void start(Frame f) {
    int id = f.getStreamId();
    HopTrace trace = HopTrace.begin(id, "exec", readNanos.getAsLong());
    trace.mark("handler");
    if (!streams.allowed(id, Policy.Operation.EXEC)) {
      return;
    }
    Streams.AgentStream s = streams.open(id);
    ExecRunner r = new ExecRunner(id, f.getExecStart(), s.sink, s.send, platform, agentIsRoot, n -> streams.consumed(id, s, n));
    r.trace(trace);
    s.exec = r;
    streams.runThenEnd(id, s, r);
  }

  void input(Frame f) {
    int id = f.getStreamId();
    Streams.AgentStream s = streams.get(id);
    if (s != null && s.exec != null) {
      if (!s.receive.received(f.getExecInput().getData().size())) {
        streams.overrun(id, s);
      } else {
        s.exec.input(f.getExecInput());
      }
    }
  }

  void resize(Frame f) {
    Streams.AgentStream s = streams.get(f.getStreamId());
    if (s != null && s.exec != null) {
      s.exec.resize(f.getExecResize().getRows(), f.getExecResize().getCols());
    }
  }

  void cancel(Frame f) {
    Streams.AgentStream s = streams.get(f.getStreamId());
    if (s != null && s.exec != null) {
      s.exec.cancel();
    }
  }
}
