package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import dev.vmlet.proto.v1.VmEvent;
import dev.vmlet.proto.v1.VmState;
import org.junit.jupiter.api.Test;

class OutputFormatTest {
  @Test
  void jsonLine_isOneLine_withTheApisFieldNames_andParsesBack() throws Exception {
    VmEvent e = VmEvent.newBuilder().setAtUnixMs(1).setName("web").setKind(VmEvent.Kind.STATE_CHANGED)
        .setState(VmState.RUNNING).setMessage("started\nsecond line").build();
    String line = OutputFormat.toJsonLine(e);
    assertThat(line).doesNotContain("\n").contains("\"name\":\"web\"").contains("\"state\":\"RUNNING\"");
    VmEvent.Builder back = VmEvent.newBuilder();
    JsonFormat.parser().merge(line, back);
    assertThat(back.build()).isEqualTo(e);
  }

  @Test
  void json_printsFieldsThatAreUnset_soScriptsCanRelyOnThem() {
    assertThat(OutputFormat.toJson(VmEvent.newBuilder().setName("web").build())).contains("\"message\": \"\"");
  }
}
