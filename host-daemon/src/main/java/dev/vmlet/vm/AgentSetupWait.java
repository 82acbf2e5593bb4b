package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.NativeSetup;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Before a template is saved: waits, bounded, until the VM's agent has made its native set-up
 * (JNA and libc: posix_spawn, the clock's and the MAC's calls), so that the template holds it done
 * and its clones set their clock and MAC, and start their first program, without the process starts
 * that cost a resumed clone most of a second under TCG (docs/benchmarks.md). The agent makes the
 * set-up once its first exec has ended; where none ran yet, one exec of {@code true} begins it.
 * An agent that does not say (older), cannot make it, or does not answer is not waited for: its
 * clones use processes, as before. Never fails the save.
 */
final class AgentSetupWait {
  static final Duration BOUND = Duration.ofSeconds(90);
  static final Duration POLL = Duration.ofMillis(250);

  /** What the wait needs of the agent. */
  interface Agent {
    /** The agent's answer about its set-up (GuestInfoReply.native_setup). */
    NativeSetup setup() throws IOException;

    /** Runs {@code true} in the guest and waits for its end; fails unless it exits 0. */
    void runTrue() throws IOException;
  }

  /**
   * Execs of {@code true} run after the set-up, before the save: HotSpot compiles a method once it
   * has run a few hundred times, so a clone of a template saved after them answers its first execs
   * with the agent's exec path compiled instead of interpreted (micro VM under TCG, quiet host: 10 ms
   * against 14 ms for a clone of a template saved without; docs/benchmarks.md). At most {@link
   * #WARM_BOUND}: a Debian guest under load ran about 430 in it.
   */
  static final int WARM_EXECS = AgentPrep.WARM_EXECS;
  static final Duration WARM_BOUND = Duration.ofSeconds(AgentPrep.WARM_BOUND_SECONDS);

  /** How a wait ended, and in how many ms; {@code warmUp} null where none was run. */
  record Outcome(NativeSetup setup, long ms, boolean ranExec, String problem, WarmUp warmUp) {
    Outcome(NativeSetup setup, long ms, boolean ranExec, String problem) {
      this(setup, ms, ranExec, problem, null);
    }

    /** This outcome with {@code w} as its warm-up. */
    Outcome withWarmUp(WarmUp w) {
      return new Outcome(setup, ms, ranExec, problem, w);
    }

    /** The execs the warm-up ran; 0 where none was. */
    int warmUpExecs() {
      return warmUp == null ? 0 : warmUp.execs();
    }

    /** One phrase for the template's log line. */
    String describe() {
      String s = switch (setup) {
        case NATIVE_SETUP_READY -> "the agent's native set-up done";
        case NATIVE_SETUP_UNAVAILABLE -> "the agent cannot make its native set-up here (clones use processes)";
        case NATIVE_SETUP_PENDING -> "the agent's native set-up not done in " + BOUND.toSeconds() + " s (clones use processes)";
        default -> "an agent that does not report its native set-up (clones use processes)";
      };
      return s + (ranExec ? ", after one exec" : "") + ", waited " + ms + " ms" + (problem == null ? "" : " (" + problem + ")")
          + (warmUp == null ? "" : "; " + warmUp.describe());
    }
  }

  /** A warm-up: the execs it ran, in how many ms, and why it stopped before all of them (null: it did not). */
  record WarmUp(int execs, long ms, String stopped) {
    String describe() {
      return "the agent warmed with " + execs + " execs of true in " + ms + " ms" + (stopped == null ? "" : " (stopped: " + stopped + ")");
    }
  }

  /** A pause of the wait; tests pass one that advances their clock. */
  interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  private AgentSetupWait() {}

  /** The wait for the set-up, then (when {@code warm} and the agent answers) the warm-up. */
  static Outcome prepare(Agent agent, Clock clock, Sleeper sleeper, boolean warm) {
    Outcome o = await(agent, clock, sleeper, BOUND);
    boolean answers = o.problem() == null
        && (o.setup() == NativeSetup.NATIVE_SETUP_READY || o.setup() == NativeSetup.NATIVE_SETUP_UNAVAILABLE);
    return warm && answers ? o.withWarmUp(warmUp(agent, clock, WARM_EXECS, WARM_BOUND)) : o;
  }

  /** Runs {@code true} {@code execs} times, one after the other, or until {@code bound} has passed or one fails. */
  static WarmUp warmUp(Agent agent, Clock clock, int execs, Duration bound) {
    long t0 = clock.millis();
    int n = 0;
    try {
      while (n < execs) {
        if (clock.millis() - t0 >= bound.toMillis()) {
          return new WarmUp(n, clock.millis() - t0, "the " + bound.toSeconds() + " s bound");
        }
        agent.runTrue();
        n++;
      }
      return new WarmUp(n, clock.millis() - t0, null);
    } catch (IOException e) {
      return new WarmUp(n, clock.millis() - t0, e.getMessage());
    }
  }

  static Outcome await(Agent agent, Clock clock, Sleeper sleeper, Duration bound) {
    long t0 = clock.millis();
    long deadline = t0 + bound.toMillis();
    boolean ran = false;
    try {
      NativeSetup s = agent.setup();
      if (s == NativeSetup.NATIVE_SETUP_PENDING) {
        agent.runTrue(); // begins the set-up where no exec ran yet; harmless where one did
        ran = true;
        s = agent.setup();
      }
      while (s == NativeSetup.NATIVE_SETUP_PENDING && clock.millis() < deadline) {
        sleeper.sleep(POLL);
        s = agent.setup();
      }
      return new Outcome(s == NativeSetup.UNRECOGNIZED ? NativeSetup.NATIVE_SETUP_UNKNOWN : s, clock.millis() - t0, ran, null);
    } catch (IOException e) {
      return new Outcome(NativeSetup.NATIVE_SETUP_UNKNOWN, clock.millis() - t0, ran, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Outcome(NativeSetup.NATIVE_SETUP_UNKNOWN, clock.millis() - t0, ran, "interrupted");
    }
  }

  /**
   * The real agent behind {@code link}: each request waits at most 60 s for its answer, so with the
   * polls' bound the whole wait of an agent that stops answering is at most 3 minutes (three requests).
   */
  static Agent over(AgentLink link) {
    return new Agent() {
      @Override
      public NativeSetup setup() throws IOException {
        return await(link.guestInfo(), "the agent's guest info").getNativeSetup();
      }

      @Override
      public void runTrue() throws IOException {
        CompletableFuture<ExecExit> done = new CompletableFuture<>();
        link.exec(ExecStart.newBuilder().addArgv("true").setTimeoutSeconds(60).build(), new ExecListener() {
          @Override
          public void stdout(byte[] data) {}

          @Override
          public void stderr(byte[] data) {}

          @Override
          public void exit(ExecExit exit) {
            done.complete(exit);
          }

          @Override
          public void failed(String reason) {
            done.completeExceptionally(new IOException(reason));
          }
        });
        ExecExit exit = await(done, "an exec of true");
        if (exit.getExitCode() != 0) { // a guest without `true` (Windows): no point in running it again
          throw new IOException("an exec of true exited " + exit.getExitCode());
        }
      }
    };
  }

  private static <T> T await(CompletableFuture<T> f, String what) throws IOException {
    try {
      return f.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new IOException(what + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      f.cancel(false);
      throw new IOException(what + ": no answer in 60 s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(what + ": interrupted", e);
    }
  }
}
