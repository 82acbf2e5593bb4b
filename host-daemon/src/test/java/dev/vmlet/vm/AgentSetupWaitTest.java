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
  private static final class ScriptedAgent implements AgentSetupWait.Agent {
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

    @Override
    public void runTrue() {
      calls.add("exec true");
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
}
