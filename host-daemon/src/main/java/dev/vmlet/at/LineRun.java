package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.at.PipelineRunner.Member;
import dev.vmlet.at.PipelineRunner.Output;
import dev.vmlet.at.PipelineRunner.Result;
import dev.vmlet.at.QueuedSink.Chunk;
import dev.vmlet.at.QueuedSink.Held;
import dev.vmlet.at.QueuedSink.Producer;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.common.at.Redirect;
import dev.vmlet.common.at.Stage;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/** One run of a line of command stages: starts every exec, wires pipes and files, waits. */
final class LineRun {
  private final Pipeline p;
  private final List<List<Member>> members;
  private final Map<Redirect, AgentLink> fileLinks;
  private final Targets targets;
  private final Output out;
  private final long timeoutSeconds;
  private final Held held = new Held();
  private final List<Producer> started = new ArrayList<>();
  private final List<QueuedSink> sinks = new ArrayList<>();
  private final FileRedirects files;

  LineRun(Pipeline p, List<List<Member>> members, Map<Redirect, AgentLink> fileLinks, Targets targets, Output out,
      long timeoutSeconds) {
    this.p = p;
    this.members = members;
    this.fileLinks = fileLinks;
    this.targets = targets;
    this.out = out;
    this.timeoutSeconds = timeoutSeconds;
    this.files = new FileRedirects(timeoutSeconds, held);
  }

  Result run(boolean pipefail) throws IOException, InterruptedException {
    List<List<CompletableFuture<ExecExit>>> exits;
    try {
      exits = startAll();
    } catch (IOException | RuntimeException e) {
      cancel();
      throw e;
    }
    return await(exits, pipefail);
  }

  private List<List<CompletableFuture<ExecExit>>> startAll() throws IOException {
    int n = p.stages().size();
    List<List<CompletableFuture<ExecExit>>> exits = new ArrayList<>();
    AgentLink next = null;
    int nextId = -1;
    // From the last stage back: a stage's pipe needs the next stage's stream id.
    for (int i = n - 1; i >= 0; i--) {
      Stage s = p.stages().get(i);
      List<Member> ms = members.get(i);
      AgentLink nextLink = next;
      int nextStageId = nextId;
      Redirect outR = PipelineRunner.find(s, Redirect.Kind.OUT, Redirect.Kind.APPEND);
      Redirect errR = PipelineRunner.find(s, Redirect.Kind.ERR);
      Redirect inR = PipelineRunner.find(s, Redirect.Kind.IN);
      QueuedSink sharedOut = outR != null && outR.target() != null ? files.sink(outR, fileLinks.get(outR), null, ms.size())
          : outR == null && i < n - 1 ? new QueuedSink.Forwarder(nextLink, nextStageId, ms.size(), held)
          : outR == null ? new CallerSink("stdout", ms.size(), held, out::stdout) : null;
      QueuedSink sharedErr = errR != null && errR.target() != null ? files.sink(errR, fileLinks.get(errR), null, ms.size()) : null;
      start(sharedOut);
      start(sharedErr);
      List<CompletableFuture<ExecExit>> stageExits = new ArrayList<>();
      for (Member m : ms) {
        QueuedSink o = sharedOut != null ? sharedOut : outR != null ? files.sink(outR, m.link(), m.vm(), 1) : null;
        int index = i;
        QueuedSink e = sharedErr != null ? sharedErr : errR != null ? files.sink(errR, m.link(), m.vm(), 1)
            : new CallerSink("stderr-" + m.vm(), 1, held, d -> out.stderr(index, m.vm(), d));
        if (o != sharedOut) {
          start(o);
        }
        if (e != sharedErr) {
          start(e);
        }
        boolean fan = s.target().isSelector();
        // A VM's own file gets its output as is; a shared destination gets lines with the VM's name.
        Listener l = new Listener(i, s, m, o, fan && o == sharedOut, e, fan && !(e instanceof FileSink && e != sharedErr));
        ExecStart.Builder start = ExecStart.newBuilder().setStdin(i > 0 || inR != null)
            .setMergeOutput(PipelineRunner.find(s, Redirect.Kind.ERR_TO_OUT) != null);
        if (targets.isWindows(m.link())) {
          start.setShell(s.raw());
        } else {
          start.addAllArgv(s.argv());
        }
        int id = m.link().exec(start.build(), l);
        l.producer.started(id);
        synchronized (started) {
          started.add(l.producer);
        }
        stageExits.add(l.exit);
        if (inR != null) {
          files.feed(inR, m.vm(), inR.target() != null ? fileLinks.get(inR) : m.link(), m.link(), id);
        }
        next = m.link();
        nextId = id;
      }
      if (outR != null && i < n - 1) {
        // Its output went to a file: the next stage reads nothing (one member: selectors only start lines).
        nextLink.execInput(nextStageId, new byte[0], 0, 0, true);
      }
      exits.add(0, stageExits);
    }
    return exits;
  }

  private void start(QueuedSink sink) {
    if (sink != null) {
      sinks.add(sink);
      sink.start();
    }
  }

  private Result await(List<List<CompletableFuture<ExecExit>>> exits, boolean pipefail) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    List<Integer> codes = new ArrayList<>();
    String failure = null;
    int code = 0;
    try {
      for (int i = 0; i < exits.size(); i++) {
        Stage s = p.stages().get(i);
        int stageCode = 0;
        String failedVm = null;
        for (int j = 0; j < exits.get(i).size(); j++) {
          ExecExit e = exits.get(i).get(j).get(remaining(deadline), TimeUnit.NANOSECONDS);
          int c = e.getExitCode() < 0 ? 128 + Math.max(e.getSignal(), 1) : e.getExitCode();
          if (c != 0 && stageCode == 0) {
            stageCode = c;
            failedVm = members.get(i).get(j).vm();
          }
        }
        codes.add(stageCode);
        if (stageCode != 0 && (pipefail || i == exits.size() - 1)) {
          code = stageCode;
          failure = PipelineRunner.describe(i, s, failedVm) + " exited with " + stageCode;
        } else if (i == exits.size() - 1 && !pipefail) {
          code = stageCode;
        }
      }
      for (CompletableFuture<?> f : files.work()) {
        f.get(remaining(deadline), TimeUnit.NANOSECONDS);
      }
      for (QueuedSink sink : sinks) {
        // The last output reaches the caller before the result does.
        TimeUnit.NANOSECONDS.timedJoin(sink, Math.max(1, remaining(deadline)));
        if (sink.isAlive()) {
          throw new TimeoutException();
        }
      }
    } catch (ExecutionException ex) {
      cancel();
      Throwable cause = ex.getCause() instanceof CompletionException ce ? ce.getCause() : ex.getCause();
      throw cause instanceof IOException io ? io : new IOException(cause.getMessage(), cause);
    } catch (TimeoutException ex) {
      cancel();
      throw new IOException("the line did not finish within " + timeoutSeconds + " s; every stage was cancelled");
    } catch (InterruptedException ex) {
      cancel();
      throw ex;
    }
    return new Result(code, codes, code == 0 ? null : failure, held.peak());
  }

  private static long remaining(long deadline) {
    return Math.max(0, deadline - System.nanoTime());
  }

  /** Stops everything: redirected files are left as they were, then every stage is killed. */
  private void cancel() {
    files.abortAll();
    synchronized (started) {
      for (Producer pr : started) {
        try {
          pr.link.execCancel(pr.id());
        } catch (IOException e) {
          // gone already
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /** Output for the caller (the last stage's stdout, every stage's stderr), at the pace the caller takes it. */
  private static final class CallerSink extends QueuedSink {
    private final Consumer<byte[]> to;

    CallerSink(String name, int producers, Held held, Consumer<byte[]> to) {
      super(name, producers, held);
      this.to = to;
    }

    @Override
    void write(byte[] data) {
      to.accept(data);
    }

    @Override
    void end() {
      // the caller's stream ends with the result
    }
  }

  /** Where one exec's output goes: into sinks, which return its credit once they passed it on. */
  private final class Listener implements ExecListener {
    final Producer producer;
    final CompletableFuture<ExecExit> exit = new CompletableFuture<>();
    private final int index;
    private final Stage stage;
    private final Member member;
    private final QueuedSink outSink;
    private final QueuedSink errSink;
    private final LinePrefixer outPrefix;
    private final LinePrefixer errPrefix;

    Listener(int index, Stage stage, Member member, QueuedSink outSink, boolean prefixOut, QueuedSink errSink, boolean prefixErr) {
      this.index = index;
      this.stage = stage;
      this.member = member;
      this.producer = new Producer(member.link());
      this.outSink = outSink;
      this.errSink = errSink;
      this.outPrefix = prefixOut ? new LinePrefixer(member.vm()) : null;
      this.errPrefix = prefixErr ? new LinePrefixer(member.vm()) : null;
    }

    @Override
    public boolean returnsCredit() {
      return true;
    }

    @Override
    public void stdout(byte[] data) {
      deliver(outSink, outPrefix, data);
    }

    @Override
    public void stderr(byte[] data) {
      deliver(errSink, errPrefix, data);
    }

    private void deliver(QueuedSink sink, LinePrefixer prefix, byte[] data) {
      sink.add(new Chunk(prefix == null ? data : prefix.add(data), data.length, false, producer));
    }

    private void end(boolean failed) {
      finish(outSink, outPrefix, failed);
      finish(errSink, errPrefix, failed);
    }

    private void finish(QueuedSink sink, LinePrefixer prefix, boolean failed) {
      byte[] rest = prefix == null ? new byte[0] : prefix.flush();
      if (failed && sink instanceof FileSink f) {
        f.abort(); // before its end: the file must not take what arrived
      }
      if (rest.length > 0) {
        sink.add(new Chunk(rest, 0, false, producer));
      }
      sink.add(new Chunk(new byte[0], 0, true, producer));
    }

    @Override
    public void exit(ExecExit e) {
      end(false);
      exit.complete(e);
    }

    @Override
    public void failed(String reason) {
      end(true);
      exit.completeExceptionally(new IOException(PipelineRunner.describe(index, stage, member.vm()) + ": " + reason));
    }
  }
}
