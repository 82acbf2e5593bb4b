package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.agent.v1.NativeSetup;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The wait before a template's save, against a scripted agent and a clock the sleeps advance (no
 * real time passes). The real agent's side: AgentTest's native set-up test; the whole: TemplateIT,
 * whose clones set their clock and MAC through libc.
 */
class AgentSetupWaitTest {
  /** A clock that only the sleeps move. */
  private static final class TestClock extends Clock {
    long ms;

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(ms);
    }
  }

  /** Answers the states given, the last one from then on; records the execs. */
  private final class ScriptedAgent implements AgentSetupWait.Agent {
    final Deque<NativeSetup> answers;
    final List<String> calls = new ArrayList<>();
    IOException failure;

    ScriptedAgent(NativeSetup... answers) {
      this.answers = new ArrayDeque<>(List.of(answers));
    }

    @Override
    public NativeSetup setup() throws IOException {
      calls.add("info");
      if (failure != null) {
        throw failure;
      }
      return answers.size() > 1 ? answers.poll() : answers.peek();
    }

    /** How long each exec takes on the test's clock, and after how many execs they fail (-1: never). */
    long execMs;
    int execsBeforeFailure = -1;

    @Override
    public void runTrue() throws IOException {
      if (execsBeforeFailure == 0) {
        throw new IOException("an exec of true failed: the agent went away");
      }
      execsBeforeFailure--;
      calls.add("exec true");
      clock.ms += execMs;
    }

    long execs() {
      return calls.stream().filter("exec true"::equals).count();
    }
  }

  private final TestClock clock = new TestClock();

  private AgentSetupWait.Outcome await(AgentSetupWait.Agent agent) {
    return AgentSetupWait.await(agent, clock, d -> clock.ms += d.toMillis(), Duration.ofSeconds(90));
  }

  @Test
  void aPendingSetUp_getsOneExec_thenIsPolledUntilReady() {
    ScriptedAgent agent = new ScriptedAgent(NativeSetup.NATIVE_SETUP_PENDING, NativeSetup.NATIVE_SETUP_PENDING,
        NativeSetup.NATIVE_SETUP_PENDING, NativeSetup.NATIVE_SETUP_READY);
    AgentSetupWait.Outcome o = await(agent);
    assertThat(o.setup()).isEqualTo(NativeSetup.NATIVE_SETUP_READY);
    assertThat(agent.calls).containsExactly("info", "exec true", "info", "info", "info");
    assertThat(o.ms()).isEqualTo(2 * AgentSetupWait.POLL.toMillis());
    assertThat(o.describe()).contains("native set-up done, after one exec");
  }

  @Test
  void aSetUpAlreadyDone_orImpossible_orNotReported_isNotWaitedFor() {
    for (NativeSetup s : new NativeSetup[] {NativeSetup.NATIVE_SETUP_READY, NativeSetup.NATIVE_SETUP_UNAVAILABLE,
        NativeSetup.NATIVE_SETUP_UNKNOWN}) {
      ScriptedAgent agent = new ScriptedAgent(s);
      AgentSetupWait.Outcome o = await(agent);
      assertThat(o.setup()).isEqualTo(s);
      assertThat(agent.calls).as(s.name()).containsExactly("info");
      assertThat(o.ms()).isZero();
    }
  }

  @Test
  void aSetUpThatNeverEnds_isWaitedForUntilTheBound_only() {
    ScriptedAgent agent = new ScriptedAgent(NativeSetup.NATIVE_SETUP_PENDING);
    AgentSetupWait.Outcome o = await(agent);
    assertThat(o.setup()).isEqualTo(NativeSetup.NATIVE_SETUP_PENDING);
    assertThat(o.ms()).isBetween(90_000L, 90_000L + AgentSetupWait.POLL.toMillis());
    assertThat(agent.calls.stream().filter("exec true"::equals)).hasSize(1);
    assertThat(o.describe()).contains("not done in 90 s (clones use processes)");
  }

  @Test
  void anAgentThatCannotBeAsked_isNotWaitedFor_andTheReasonIsKept() {
    ScriptedAgent agent = new ScriptedAgent(NativeSetup.NATIVE_SETUP_PENDING);
    agent.failure = new IOException("the agent's guest info failed: the policy denies info");
    AgentSetupWait.Outcome o = await(agent);
    assertThat(o.setup()).isEqualTo(NativeSetup.NATIVE_SETUP_UNKNOWN);
    assertThat(o.describe()).contains("(clones use processes)", "policy denies info");
  }

  @Test
  void prepare_warmsAReadyAgent_withItsExecs_andSaysSo() {
    ScriptedAgent agent = new ScriptedAgent(NativeSetup.NATIVE_SETUP_READY);
    agent.execMs = 20;
    AgentSetupWait.Outcome o = AgentSetupWait.prepare(agent, clock, d -> clock.ms += d.toMillis(), true);
    assertThat(agent.execs()).isEqualTo(AgentSetupWait.WARM_EXECS);
    assertThat(o.warmUpExecs()).isEqualTo(AgentSetupWait.WARM_EXECS);
    assertThat(o.describe()).contains("native set-up done", "the agent warmed with 500 execs of true in 10000 ms").doesNotContain("stopped");
  }

  @Test
  void prepare_withoutWarming_runsNoExecForAReadyAgent() {
    ScriptedAgent agent = new ScriptedAgent(NativeSetup.NATIVE_SETUP_READY);
    AgentSetupWait.Outcome o = AgentSetupWait.prepare(agent, clock, d -> clock.ms += d.toMillis(), false);
    assertThat(agent.execs()).isZero();
    assertThat(o.warmUpExecs()).isZero();
    assertThat(o.describe()).doesNotContain("warmed");
  }

  @Test
  void theWarmUp_stopsAtItsBound_andAtAFailedExec_keepingTheCount() {
    ScriptedAgent slow = new ScriptedAgent(NativeSetup.NATIVE_SETUP_UNAVAILABLE);
    slow.execMs = 500;
    AgentSetupWait.Outcome o = AgentSetupWait.prepare(slow, clock, d -> clock.ms += d.toMillis(), true);
    assertThat(o.warmUpExecs()).isEqualTo((int) (AgentSetupWait.WARM_BOUND.toMillis() / 500));
    assertThat(o.describe()).contains("warmed with 40 execs", "stopped: the 20 s bound");

    ScriptedAgent failing = new ScriptedAgent(NativeSetup.NATIVE_SETUP_READY);
    failing.execsBeforeFailure = 7;
    AgentSetupWait.WarmUp w = AgentSetupWait.warmUp(failing, clock, 250, Duration.ofSeconds(20));
    assertThat(w.execs()).isEqualTo(7);
    assertThat(w.describe()).contains("stopped: an exec of true failed: the agent went away");
  }

  @Test
  void anAgentNotReady_orNotAnswering_isNotWarmed() {
    ScriptedAgent pending = new ScriptedAgent(NativeSetup.NATIVE_SETUP_PENDING);
    AgentSetupWait.Outcome o = AgentSetupWait.prepare(pending, clock, d -> clock.ms += d.toMillis(), true);
    assertThat(pending.execs()).isEqualTo(1); // the one that begins the set-up
    assertThat(o.warmUpExecs()).isZero();

    ScriptedAgent mute = new ScriptedAgent(NativeSetup.NATIVE_SETUP_READY);
    mute.failure = new IOException("the agent's guest info: no answer in 60 s");
    assertThat(AgentSetupWait.prepare(mute, clock, d -> clock.ms += d.toMillis(), true).warmUpExecs()).isZero();
    assertThat(mute.execs()).isZero();
  }
}
