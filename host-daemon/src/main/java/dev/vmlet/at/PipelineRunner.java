package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.common.at.Redirect;
import dev.vmlet.common.at.Stage;
import dev.vmlet.common.at.Target;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecStart;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a parsed pipeline of VM stages through their agents: each stage's stdout streams into the
 * next stage's stdin, the last stage's output goes to the caller. Data between stages moves with
 * the agent link's credit: a stage's output is granted back only once the next stage's agent took
 * it, so the daemon holds at most one window (256 KiB) per pipe whatever the stages do.
 *
 * <p>Redirects: {@code >}, {@code >>} and {@code 2>} push the stream into a file on a VM (which
 * changes only once all of it arrived), {@code <} feeds the first stage from a VM's file,
 * {@code 2>&1} merges. Not yet (refused with the column): label selectors, {@code @host}, other
 * nodes, control flags.
 */
public final class PipelineRunner {
  /** Where the stages run: the agent link of a VM by name. */
  public interface Agents {
    /** @throws IllegalArgumentException naming the VM when it does not exist or has no agent */
    AgentLink agent(String vm);
  }

  /** The last stage's output and every stage's stderr, as they come. Called from link threads. */
  public interface Output {
    void stdout(byte[] data);

    void stderr(int stage, String vm, byte[] data);
  }

  /** How the line ended: the exit code that counts, each stage's, and which stage failed. */
  public record Result(int exitCode, List<Integer> stageExits, String failure) {}

  private PipelineRunner() {}

  /** Refuses what this runner cannot run yet, naming the column. */
  static void check(Pipeline p) {
    for (Stage s : p.stages()) {
      if (s.isControl()) {
        throw new IllegalArgumentException("column " + s.target().column() + ": --" + s.control().action()
            + " is not run by pipelines yet; use vmlet " + s.control().action() + " " + s.target().name());
      }
      if ("host".equals(s.target().name())) {
        throw new IllegalArgumentException("column " + s.target().column() + ": @host (the daemon's own host) is not enabled on"
            + " this daemon; only VMs can be targets for now");
      }
      if (s.target().isSelector() || s.target().node() != null) {
        throw new IllegalArgumentException("column " + s.target().column() + ": " + s.target()
            + ": label selectors and other nodes are not run yet; name a VM on this node");
      }
      int outs = 0;
      int errs = 0;
      for (Redirect r : s.redirects()) {
        if (r.kind() == Redirect.Kind.IN && s != p.stages().get(0)) {
          throw new IllegalArgumentException("column " + r.column() + ": '<' only on the first stage (the others read the pipe)");
        }
        outs += r.kind() == Redirect.Kind.OUT || r.kind() == Redirect.Kind.APPEND ? 1 : 0;
        errs += r.kind() == Redirect.Kind.ERR ? 1 : 0;
        Target t = r.target();
        if (t != null && ("host".equals(t.name()) || t.isSelector() || t.node() != null)) {
          throw new IllegalArgumentException("column " + t.column() + ": " + t + " cannot hold files yet; name a VM on this node");
        }
      }
      if (outs > 1 || errs > 1) {
        throw new IllegalArgumentException("column " + s.target().column() + ": one '>' and one '2>' per stage");
      }
    }
  }

  /**
   * Runs the pipeline and blocks until every stage ended.
   *
   * @param pipefail the exit code is the last non-zero stage's (else the last stage's)
   */
  public static Result run(Pipeline p, Agents agents, Output out, boolean pipefail, long timeoutSeconds)
      throws IOException, InterruptedException {
    check(p);
    int n = p.stages().size();
    List<AgentLink> links = new ArrayList<>();
    for (Stage s : p.stages()) {
      try {
        links.add(agents.agent(s.target().name()));
      } catch (dev.vmlet.vm.VmException e) {
        throw new dev.vmlet.vm.VmException(e.kind(), "column " + s.target().column() + ": " + e.getMessage(), e);
      }
    }
    List<CompletableFuture<ExecExit>> exits = new ArrayList<>();
    List<CompletableFuture<?>> files = new ArrayList<>();
    int[] ids = new int[n];
    // From the last stage back: a stage's pipe needs the next stage's stream id.
    for (int i = n - 1; i >= 0; i--) {
      Stage s = p.stages().get(i);
      int index = i;
      int[] self = {-1};
      AgentLink link = links.get(i);
      Redirect outFile = find(s, Redirect.Kind.OUT) != null ? find(s, Redirect.Kind.OUT) : find(s, Redirect.Kind.APPEND);
      Redirect errFile = find(s, Redirect.Kind.ERR);
      Redirect inFile = find(s, Redirect.Kind.IN);
      QueuedSink outSink = outFile != null ? fileSink(s, outFile, link, agents, timeoutSeconds, files)
          : i < n - 1 ? new Forwarder(links.get(i + 1), ids[i + 1]) : null;
      QueuedSink errSink = errFile != null ? fileSink(s, errFile, link, agents, timeoutSeconds, files) : null;
      boolean queued = outSink != null || errSink != null;
      ExecStart start = ExecStart.newBuilder().addAllArgv(s.argv()).setStdin(i > 0 || inFile != null)
          .setMergeOutput(find(s, Redirect.Kind.ERR_TO_OUT) != null).build();
      CompletableFuture<ExecExit> exit = new CompletableFuture<>();
      ExecListener l = new ExecListener() {
        @Override
        public boolean returnsCredit() {
          return queued;
        }

        @Override
        public void stdout(byte[] data) {
          deliver(outSink, data, () -> out.stdout(data));
        }

        @Override
        public void stderr(byte[] data) {
          deliver(errSink, data, () -> out.stderr(index, s.target().name(), data));
        }

        private void deliver(QueuedSink sink, byte[] data, Runnable direct) {
          if (sink != null) {
            sink.queue.add(new Chunk(data, false, link, self));
            return;
          }
          direct.run();
          if (queued) {
            waitForId(self);
            link.consumed(self[0], data.length);
          }
        }

        private void end() {
          for (QueuedSink sink : new QueuedSink[] {outSink, errSink}) {
            if (sink != null) {
              sink.queue.add(new Chunk(new byte[0], true, link, self));
            }
          }
        }

        @Override
        public void exit(ExecExit e) {
          end();
          exit.complete(e);
        }

        @Override
        public void failed(String reason) {
          end();
          exit.completeExceptionally(new IOException("stage " + (index + 1) + " (" + s.target() + " " + s.raw() + "): " + reason));
        }
      };
      ids[i] = link.exec(start, l);
      synchronized (self) {
        self[0] = ids[i];
        self.notifyAll();
      }
      for (QueuedSink sink : new QueuedSink[] {outSink, errSink}) {
        if (sink != null) {
          sink.start();
        }
      }
      if (outFile != null && i < n - 1) {
        links.get(i + 1).execInput(ids[i + 1], new byte[0], 0, 0, true); // its output went to a file: the next stage reads nothing
      }
      if (inFile != null) {
        feedFromFile(s, inFile, link, ids[i], agents, timeoutSeconds, files);
      }
      exits.add(0, exit);
    }
    List<Integer> codes = new ArrayList<>();
    String failure = null;
    int code = 0;
    for (int i = 0; i < n; i++) {
      ExecExit e;
      try {
        e = exits.get(i).get(timeoutSeconds, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException ex) {
        cancelAll(links, ids);
        throw ex.getCause() instanceof IOException io ? io : new IOException(ex.getCause());
      } catch (java.util.concurrent.TimeoutException ex) {
        cancelAll(links, ids);
        throw new IOException("the pipeline did not finish within " + timeoutSeconds + " s; every stage was cancelled");
      }
      int c = e.getExitCode() < 0 ? 128 + Math.max(e.getSignal(), 1) : e.getExitCode();
      codes.add(c);
      if (c != 0 && (pipefail || i == n - 1)) {
        code = c;
        Stage s = p.stages().get(i);
        failure = "stage " + (i + 1) + " (" + s.target() + " " + s.raw() + ") exited with " + c;
      } else if (i == n - 1 && !pipefail) {
        code = c;
      }
    }
    for (CompletableFuture<?> f : files) {
      try {
        f.get(timeoutSeconds, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException ex) {
        throw ex.getCause() instanceof IOException io ? io : new IOException(ex.getCause());
      } catch (java.util.concurrent.TimeoutException ex) {
        throw new IOException("a redirect did not finish within " + timeoutSeconds + " s");
      }
    }
    return new Result(code, codes, code == 0 ? null : failure);
  }

  private static Redirect find(Stage s, Redirect.Kind kind) {
    return s.redirects().stream().filter(r -> r.kind() == kind).findFirst().orElse(null);
  }

  private static AgentLink fileLink(Stage s, Redirect r, AgentLink own, Agents agents) {
    return r.target() == null ? own : agents.agent(r.target().name());
  }

  private static String where(Stage s, Redirect r) {
    return (r.target() == null ? s.target() : r.target()) + " " + r.path();
  }

  /** '>', '>>' or '2>': a push of the stream into the file, which changes only once all of it arrived. */
  private static QueuedSink fileSink(Stage s, Redirect r, AgentLink own, Agents agents, long timeoutSeconds,
      List<CompletableFuture<?>> files) throws IOException {
    AgentLink to = fileLink(s, r, own, agents);
    java.io.PipedInputStream in = new java.io.PipedInputStream(1 << 20);
    java.io.PipedOutputStream pipe = new java.io.PipedOutputStream(in);
    dev.vmlet.proto.v1.FileWriteStart start = dev.vmlet.proto.v1.FileWriteStart.newBuilder().setPath(r.path())
        .setAppend(r.kind() == Redirect.Kind.APPEND).build();
    files.add(CompletableFuture.runAsync(() -> {
      try {
        dev.vmlet.agent.AgentFiles.push(to, start, in, () -> null, java.time.Duration.ofSeconds(timeoutSeconds));
      } catch (IOException e) {
        throw new java.util.concurrent.CompletionException(new IOException("writing " + where(s, r) + ": " + e.getMessage(), e));
      } finally {
        try {
          in.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }));
    return new QueuedSink("redirect-" + r.path()) {
      @Override
      void write(byte[] data) throws IOException {
        pipe.write(data);
      }

      @Override
      void end() throws IOException {
        pipe.close();
      }
    };
  }

  /** '<': the file's content becomes the stage's stdin, then end of input. */
  private static void feedFromFile(Stage s, Redirect r, AgentLink own, int stageId, Agents agents, long timeoutSeconds,
      List<CompletableFuture<?>> files) {
    AgentLink from = fileLink(s, r, own, agents);
    files.add(CompletableFuture.runAsync(() -> {
      try {
        dev.vmlet.agent.AgentFiles.pull(from, r.path(), new java.io.OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            own.execInput(stageId, b, off, len, false);
          }
        }, info -> { }, java.time.Duration.ofSeconds(timeoutSeconds));
        own.execInput(stageId, new byte[0], 0, 0, true);
      } catch (IOException e) {
        try {
          own.execCancel(stageId);
        } catch (IOException ignored) {
          // gone
        }
        throw new java.util.concurrent.CompletionException(new IOException("reading " + where(s, r) + ": " + e.getMessage(), e));
      }
    }));
  }

  private static void cancelAll(List<AgentLink> links, int[] ids) {
    for (int i = 0; i < links.size(); i++) {
      try {
        links.get(i).execCancel(ids[i]);
      } catch (IOException e) {
        // gone already
      }
    }
  }

  private static void waitForId(int[] self) {
    synchronized (self) {
      while (self[0] < 0) {
        try {
          self.wait(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private record Chunk(byte[] data, boolean eof, AgentLink from, int[] fromId) {}

  /**
   * Takes one stream's chunks off the link threads, hands each on (it may wait: the next agent's
   * credit, a file's push), and only then returns its credit to the producing agent.
   */
  private abstract static class QueuedSink extends Thread {
    // Bounded by the producer's window: it cannot send more than it was granted.
    final BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(1024);

    QueuedSink(String name) {
      super(name);
      setDaemon(true);
    }

    abstract void write(byte[] data) throws IOException;

    abstract void end() throws IOException;

    @Override
    public void run() {
      boolean broken = false;
      try {
        while (true) {
          Chunk c = queue.take();
          if (c.eof()) {
            if (!broken) {
              end();
            }
            return;
          }
          if (!broken) {
            try {
              write(c.data());
            } catch (IOException e) {
              broken = true; // the reader ended (head -1): the rest is dropped, its credit still returned
            }
          }
          waitForId(c.fromId());
          c.from().consumed(c.fromId()[0], c.data().length);
        }
      } catch (IOException e) {
        // the reader is gone
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** A pipe: a stage's output into the next stage's stdin. */
  private static final class Forwarder extends QueuedSink {
    private final AgentLink to;
    private final int toId;

    Forwarder(AgentLink to, int toId) {
      super("pipe-to-" + toId);
      this.to = to;
      this.toId = toId;
    }

    @Override
    void write(byte[] data) throws IOException {
      to.execInput(toId, data, 0, data.length, false);
    }

    @Override
    void end() throws IOException {
      to.execInput(toId, new byte[0], 0, 0, true);
    }
  }
}
