package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.common.at.Redirect;
import dev.vmlet.common.at.Stage;
import dev.vmlet.common.at.Target;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a parsed line of the @target language: each stage's stdout streams into the next stage's
 * stdin through the daemon, with the agent link's credit: a stage's output is granted back only
 * once the next stage's agent took it, so the daemon holds at most one window (256 KiB) per
 * producer whatever the stages do ({@link Result#peakHeldBytes}).
 *
 * <p>Redirects: {@code >}, {@code >>} and {@code 2>} push the stream into a file on a VM (which
 * changes only once all of it arrived), {@code <} feeds the first stage from a VM's file, {@code
 * 2>&1} merges. A label selector ({@code @role=web}) starts the line on every matching VM, each line
 * of their output prefixed with the VM's name. A control flag ({@code @web1 --pause}) acts on the VM.
 * Lines for other nodes are sent there before this runner sees them ({@link NodeLines}).
 */
public final class PipelineRunner {
  /**
   * The last stage's output and every stage's stderr, as they come, from the line's own threads
   * (one per stream): a call may block until the caller takes more, which holds back the agent
   * that produced it instead of buffering in the daemon.
   */
  public interface Output {
    void stdout(byte[] data);

    void stderr(int stage, String vm, byte[] data);
  }

  /**
   * How the line ended: the exit code that counts, each stage's (a fanned-out stage's first
   * non-zero), which stage failed, and the most bytes the daemon held between stages at once.
   */
  public record Result(int exitCode, List<Integer> stageExits, String failure, long peakHeldBytes) {}

  /** One VM a stage runs on; {@code link} is null for a control stage. */
  record Member(String vm, AgentLink link) {}

  private PipelineRunner() {}

  /** Refuses what cannot run, naming the column, before anything runs. */
  static void check(Pipeline p) {
    for (int i = 0; i < p.stages().size(); i++) {
      Stage s = p.stages().get(i);
      if (s.target().node() != null) {
        throw new IllegalArgumentException("column " + s.target().column() + ": " + s.target()
            + " is on another node: RunCommandLine sends such lines to that node's daemon (NodeLines), not to this runner");
      }
      if (s.target().isSelector() && i > 0) {
        throw new IllegalArgumentException("column " + s.target().column() + ": a label selector (" + s.target()
            + ") can only start a line: the outputs of its VMs go into the pipe together");
      }
      int outs = 0;
      int errs = 0;
      for (Redirect r : s.redirects()) {
        if (r.kind() == Redirect.Kind.IN && i > 0) {
          throw new IllegalArgumentException("column " + r.column() + ": '<' only on the first stage (the others read the pipe)");
        }
        outs += r.kind() == Redirect.Kind.OUT || r.kind() == Redirect.Kind.APPEND ? 1 : 0;
        errs += r.kind() == Redirect.Kind.ERR ? 1 : 0;
        Target t = r.target();
        if (t != null && (t.isSelector() || t.node() != null)) {
          throw new IllegalArgumentException("column " + t.column() + ": " + t + " cannot hold the file; name one VM on this node");
        }
      }
      Redirect unnamed = s.isControl() && s.target().isSelector() ? find(s, Redirect.Kind.OUT, Redirect.Kind.APPEND) : null;
      if (unnamed != null && unnamed.target() == null) {
        throw new IllegalArgumentException("column " + unnamed.column() + ": name the VM that holds the file (> @VM PATH)");
      }
      if (outs > 1 || errs > 1) {
        throw new IllegalArgumentException("column " + s.target().column() + ": one '>' and one '2>' per stage");
      }
    }
  }

  /**
   * Runs the line and blocks until every stage ended. Interrupting the calling thread cancels
   * every stage (their process groups are killed) and leaves redirected files as they were.
   *
   * @param pipefail the exit code is the last non-zero stage's (else the last stage's)
   */
  public static Result run(Pipeline p, Targets targets, Output out, boolean pipefail, long timeoutSeconds)
      throws IOException, InterruptedException {
    check(p);
    List<List<Member>> members = new ArrayList<>();
    Map<Redirect, AgentLink> files = new IdentityHashMap<>();
    for (Stage s : p.stages()) {
      List<String> vms = s.target().isSelector() ? targets.select(s.target().labelKey(), s.target().labelValue())
          : List.of(s.target().name());
      if (vms.isEmpty()) {
        throw new IllegalArgumentException("column " + s.target().column() + ": no VM has the label "
            + s.target().labelKey() + "=" + s.target().labelValue() + " (vmlet list shows the labels)");
      }
      List<Member> ms = new ArrayList<>();
      for (String vm : vms) {
        ms.add(new Member(vm, s.isControl() ? null : agent(targets, vm, s.target().column())));
      }
      members.add(ms);
      for (Redirect r : s.redirects()) {
        if (r.target() != null) {
          files.put(r, agent(targets, r.target().name(), r.target().column()));
        }
      }
    }
    if (p.stages().get(0).isControl()) {
      return ControlRunner.run(p.stages().get(0), members.get(0), files, targets, out, timeoutSeconds);
    }
    return new LineRun(p, members, files, targets, out, timeoutSeconds).run(pipefail);
  }

  /** The agent of a target, its errors prefixed with the target's column. */
  private static AgentLink agent(Targets targets, String vm, int column) {
    try {
      return targets.agent(vm);
    } catch (VmException e) {
      throw new VmException(e.kind(), "column " + column + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("column " + column + ": " + e.getMessage(), e);
    } catch (SecurityException e) {
      throw new SecurityException("column " + column + ": " + e.getMessage(), e);
    }
  }

  static Redirect find(Stage s, Redirect.Kind... kinds) {
    for (Redirect r : s.redirects()) {
      for (Redirect.Kind k : kinds) {
        if (r.kind() == k) {
          return r;
        }
      }
    }
    return null;
  }

  /** How a stage is named in errors: {@code stage 2 (@web1 grep x)}, plus the VM of a fan-out. */
  static String describe(int index, Stage s, String vm) {
    String name = "stage " + (index + 1) + " (" + s.target() + (s.raw().isEmpty() ? "" : " " + s.raw()) + ")";
    return s.target().isSelector() ? name + " on " + vm : name;
  }
}
