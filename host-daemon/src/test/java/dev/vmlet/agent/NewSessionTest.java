package dev.vmlet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.agent.v1.Hello;
import org.junit.jupiter.api.Test;

class NewSessionTest {
  private static final Hello FIRST = Hello.newBuilder().setBootId("boot-1").setAgentStartId("start-1").build();

  @Test
  void anotherBoot_isAReboot_whateverTheAgentSays() {
    Hello next = FIRST.toBuilder().setBootId("boot-2").setAgentStartId("start-2").setPreviousSessionEnd("x").build();
    assertThat(NewSession.why("web1", FIRST, next)).isEqualTo("the guest of VM web1 rebooted");
    assertThat(NewSession.why(null, FIRST, next)).isEqualTo("the guest rebooted");
  }

  @Test
  void anotherAgentStart_inTheSameBoot_isARestart() {
    assertThat(NewSession.why("web1", FIRST, FIRST.toBuilder().setAgentStartId("start-2").build()))
        .isEqualTo("the agent of VM web1 restarted");
  }

  @Test
  void anotherSessionOfTheSameStart_isALostHost_withTheAgentsReasonWhenItGivesOne() {
    Hello said = FIRST.toBuilder().setSessionNumber(1).setPreviousSessionEnd("the link to the host ended").build();
    assertThat(NewSession.why(null, FIRST, said)).isEqualTo("the agent started a new session (it lost the host: the link to the host ended)");
    assertThat(NewSession.why("web1", FIRST, FIRST.toBuilder().setSessionNumber(1).build()))
        .isEqualTo("the agent of VM web1 started a new session (it lost the host)");
  }
}
