package dev.vmlet.at;

import dev.vmlet.client.DaemonClient;
import dev.vmlet.client.ExecClient;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.common.at.Stage;
import dev.vmlet.common.at.Target;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * A line whose stages are on different nodes ({@code @node-a/vm1 cat f | @node-b/vm2 wc -l}):
 * each stage runs through the Exec call of its node's daemon, this node's own included (through
 * its TLS listener, as the fleet's peer certificate, so every stage of such a line runs as the
 * same client), and this daemon copies each stage's stdout into the next one's stdin. Exec hands
 * out one response at a time and its stdin waits for the call's window, so a slow consumer holds
 * its producer back across nodes; the daemon holds at most one message per stage.
 *
 * <p>Such a line is plain stages on one VM each: no redirects, label selectors, control verbs or
 * {@code @host} (each is refused with its column).
 */
public final class FleetLine {
  /** One stage: its node (null: this node), VM, program, and how errors name it. */
  public record Step(String node, String vm, List<String> argv, String display) {}

  /** Connects to a node's daemon by name; null is this node. */
  public interface Connector {
    DaemonClient connect(String node) throws IOException;
  }

  private FleetLine() {}

  /**
   * The steps of a line that spans nodes, or null when every target is on one node (a node
   * named {@code self} counts as this node).
   *
   * @throws IllegalArgumentException naming the column of what such a line cannot hold
   */
  public static List<Step> plan(Pipeline p, String self, Predicate<String> isHost) {
    Set<String> nodes = new HashSet<>();
    for (Stage s : p.stages()) {
      nodes.add(node(s.target(), self));
      s.redirects().stream().filter(r -> r.target() != null).forEach(r -> nodes.add(node(r.target(), self)));
    }
    if (nodes.size() < 2) {
      return null;
    }
    List<Step> steps = new ArrayList<>();
    for (int i = 0; i < p.stages().size(); i++) {
      Stage s = p.stages().get(i);
      Target t = s.target();
      String why = s.isControl() ? "a control verb" : t.isSelector() ? "a label selector" : !s.redirects().isEmpty() ? "a redirect"
          : isHost.test(t.name()) ? "@" + t.name() + " (this host)" : null;
      if (why != null) {
        throw new IllegalArgumentException("column " + (s.redirects().isEmpty() ? t.column() : s.redirects().get(0).column()) + ": "
            + why + " in a line across nodes; such a line takes plain stages on one VM each (run the rest on one node)");
      }
      steps.add(new Step(node(t, self), t.name(), s.argv(), PipelineRunner.describe(i, s, t.name())));
    }
    return steps;
  }

  private static String node(Target t, String self) {
    return t.node() == null || t.node().equals(self) ? null : t.node();
  }

  /**
   * Runs the steps and blocks until each ended; interrupting the caller cancels every stage.
   *
   * @param pipefail the exit code is the last non-zero stage's (else the last stage's)
   */
  public static PipelineRunner.Result run(List<Step> steps, Connector nodes, PipelineRunner.Output out, boolean pipefail,
      long timeoutSeconds) throws IOException, InterruptedException {
    List<DaemonClient> clients = new ArrayList<>();
    List<ExecClient> calls = new ArrayList<>();
    List<CompletableFuture<ExecExit>> exits = new ArrayList<>();
    try {
      for (int i = 0; i < steps.size(); i++) {
        Step st = steps.get(i);
        DaemonClient c;
        try {
          c = nodes.connect(st.node());
        } catch (IOException | IllegalArgumentException e) {
          throw new IOException(st.display() + ": " + e.getMessage(), e);
        }
        clients.add(c);
        calls.add(ExecClient.start(c.vmsAsync().withDeadlineAfter(timeoutSeconds + 30, TimeUnit.SECONDS), ExecRequest.newBuilder()
            .setName(st.vm()).addAllArgv(st.argv()).setStdin(i > 0).setTimeoutSeconds((int) Math.min(timeoutSeconds, Integer.MAX_VALUE))
            .build()));
      }
      for (int i = 0; i < steps.size(); i++) {
        exits.add(pump(i, steps.get(i), calls.get(i), i + 1 < calls.size() ? calls.get(i + 1) : null, out));
      }
      return await(steps, exits, pipefail, timeoutSeconds);
    } finally {
      calls.forEach(ExecClient::close); // cancels the stages still running
      for (DaemonClient c : clients) {
        c.close();
      }
    }
  }

  /** A thread that reads one stage: stdout into the next stage (or the caller), stderr to the caller. */
  private static CompletableFuture<ExecExit> pump(int index, Step st, ExecClient call, ExecClient next, PipelineRunner.Output out) {
    CompletableFuture<ExecExit> exit = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      boolean nextOpen = next != null;
      try {
        ExecResponse r;
        while ((r = call.next()) != null) {
          switch (r.getPayloadCase()) {
            case STDOUT -> {
              byte[] data = r.getStdout().toByteArray();
              if (next == null) {
                out.stdout(data);
              } else if (nextOpen) {
                nextOpen = feed(next, data);
              }
            }
            case STDERR -> out.stderr(index, st.vm(), r.getStderr().toByteArray());
            case EXIT -> exit.complete(r.getExit());
            default -> { }
          }
        }
        if (!exit.isDone()) {
          exit.completeExceptionally(new IOException(st.display() + " ended without an exit status"));
        }
      } catch (StatusRuntimeException e) {
        exit.completeExceptionally(new IOException(st.display() + (st.node() == null ? "" : " on node " + st.node()) + ": "
            + e.getStatus().getCode() + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription()), e));
      } catch (InterruptedException e) {
        exit.completeExceptionally(e);
      } finally {
        if (nextOpen) {
          closeQuietly(next);
        }
      }
    }, "fleet-line-" + (index + 1));
    t.setDaemon(true);
    t.start();
    return exit;
  }

  /** False when the next stage no longer reads (it ended, like head does): the rest is dropped. */
  private static boolean feed(ExecClient next, byte[] data) throws InterruptedException {
    try {
      next.stdin(data, 0, data.length);
      return true;
    } catch (IllegalStateException e) {
      return false;
    }
  }

  private static void closeQuietly(ExecClient next) {
    try {
      next.closeStdin();
    } catch (IllegalStateException e) {
      // the stage ended already
    }
  }

  private static PipelineRunner.Result await(List<Step> steps, List<CompletableFuture<ExecExit>> exits, boolean pipefail,
      long timeoutSeconds) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    List<Integer> codes = new ArrayList<>();
    int code = 0;
    String failure = null;
    for (int i = 0; i < exits.size(); i++) {
      ExecExit e;
      try {
        e = exits.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (ExecutionException ex) {
        throw ex.getCause() instanceof IOException io ? io : new IOException(Objects.toString(ex.getCause().getMessage()), ex.getCause());
      } catch (TimeoutException ex) {
        throw new IOException("the line did not finish within " + timeoutSeconds + " s; every stage was cancelled");
      }
      int c = e.getExitCode() < 0 ? 128 + Math.max(e.getSignal(), 1) : e.getExitCode();
      codes.add(c);
      if (c != 0 && (pipefail || i == exits.size() - 1)) {
        code = c;
        failure = steps.get(i).display() + " exited with " + c;
      } else if (i == exits.size() - 1 && !pipefail) {
        code = c;
      }
    }
    return new PipelineRunner.Result(code, codes, code == 0 ? null : failure, 0);
  }
}
