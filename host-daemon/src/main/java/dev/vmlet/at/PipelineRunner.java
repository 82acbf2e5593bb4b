package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.common.at.Redirect;
import dev.vmlet.common.at.Stage;
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
 * <p>Not yet: redirects to files, label selectors, {@code @host} and other nodes (refused with the
 * column), control flags.
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
      for (Redirect r : s.redirects()) {
        if (r.kind() != Redirect.Kind.ERR_TO_OUT) {
          throw new IllegalArgumentException("column " + r.column() + ": file redirects are not run yet");
        }
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
    int[] ids = new int[n];
    List<Forwarder> forwarders = new ArrayList<>();
    // From the last stage back: a stage's forwarder needs the next stage's stream id.
    for (int i = n - 1; i >= 0; i--) {
      Stage s = p.stages().get(i);
      boolean merge = s.redirects().stream().anyMatch(r -> r.kind() == Redirect.Kind.ERR_TO_OUT);
      ExecStart start = ExecStart.newBuilder().addAllArgv(s.argv()).setStdin(i > 0).setMergeOutput(merge).build();
      CompletableFuture<ExecExit> exit = new CompletableFuture<>();
      int index = i;
      Forwarder fwd = i == n - 1 ? null : new Forwarder(links.get(i + 1), ids[i + 1]);
      int[] self = {-1};
      ExecListener l = new ExecListener() {
        @Override
        public boolean returnsCredit() {
          return fwd != null;
        }

        @Override
        public void stdout(byte[] data) {
          if (fwd == null) {
            out.stdout(data);
          } else {
            fwd.queue.add(new Chunk(data, false, links.get(index), self));
          }
        }

        @Override
        public void stderr(byte[] data) {
          out.stderr(index, s.target().name(), data);
          if (fwd != null) {
            waitForId(self);
            links.get(index).consumed(self[0], data.length);
          }
        }

        @Override
        public void exit(ExecExit e) {
          if (fwd != null) {
            fwd.queue.add(new Chunk(new byte[0], true, links.get(index), self));
          }
          exit.complete(e);
        }

        @Override
        public void failed(String reason) {
          if (fwd != null) {
            fwd.queue.add(new Chunk(new byte[0], true, links.get(index), self));
          }
          exit.completeExceptionally(new IOException("stage " + (index + 1) + " (" + s.target() + " " + s.raw() + "): " + reason));
        }
      };
      ids[i] = links.get(i).exec(start, l);
      synchronized (self) {
        self[0] = ids[i];
        self.notifyAll();
      }
      if (fwd != null) {
        fwd.start();
      }
      forwarders.add(0, fwd);
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
    return new Result(code, codes, code == 0 ? null : failure);
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
   * Moves one pipe's data from a stage's output into the next stage's stdin, off the link threads
   * (stdin waits for the next agent's credit), and only then returns the credit to the producer.
   */
  private static final class Forwarder extends Thread {
    // Bounded by the producer's window: it cannot send more than it was granted.
    final BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(1024);
    private final AgentLink to;
    private final int toId;

    Forwarder(AgentLink to, int toId) {
      super("pipe-to-" + toId);
      setDaemon(true);
      this.to = to;
      this.toId = toId;
    }

    @Override
    public void run() {
      try {
        while (true) {
          Chunk c = queue.take();
          if (c.eof()) {
            to.execInput(toId, new byte[0], 0, 0, true);
            return;
          }
          try {
            to.execInput(toId, c.data(), 0, c.data().length, false);
          } catch (IOException e) {
            // the next stage ended (head -1): the rest is dropped, its credit still returned
          }
          waitForId(c.fromId());
          c.from().consumed(c.fromId()[0], c.data().length);
        }
      } catch (IOException e) {
        // the next stage is gone
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
