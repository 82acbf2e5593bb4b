package dev.vmlet.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proto.v1.Accel;
import dev.vmlet.proto.v1.AgentPort;
import dev.vmlet.proto.v1.Protocol;
import org.junit.jupiter.api.Test;

class ApiEnumsTest {
  @Test
  void aValue_isItsWordWithoutTheTypePrefix() {
    assertThat(ApiEnums.word(Accel.ACCEL_TCG)).isEqualTo("tcg");
    assertThat(ApiEnums.word(AgentPort.AGENT_PORT_SERIAL)).isEqualTo("serial");
    assertThat(ApiEnums.word(Accel.ACCEL_UNSPECIFIED)).isEmpty();
    assertThat(ApiEnums.show(Accel.ACCEL_UNSPECIFIED)).isEqualTo("-");
  }

  @Test
  void aWord_isItsValue_andEmptyIsUnspecified() {
    assertThat(ApiEnums.agentPort("serial")).isEqualTo(AgentPort.AGENT_PORT_SERIAL);
    assertThat(ApiEnums.protocol("UDP")).isEqualTo(Protocol.PROTOCOL_UDP);
    assertThat(ApiEnums.accel("")).isEqualTo(Accel.ACCEL_UNSPECIFIED);
  }

  @Test
  void aWordOutsideTheSet_isRefusedListingTheSet() {
    assertThatThrownBy(() -> ApiEnums.accel("hvf")).hasMessage("accel must be one of auto, kvm, tcg, got 'hvf'");
    assertThatThrownBy(() -> ApiEnums.accel("unspecified")).hasMessageContaining("got 'unspecified'");
  }
}
