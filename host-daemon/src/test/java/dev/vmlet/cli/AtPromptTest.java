package dev.vmlet.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class AtPromptTest {
  @Test
  void completion_offersEveryVm_everyLabelAsASelector_andTheHost() {
    List<Vm> vms = List.of(
        Vm.newBuilder().setSpec(VmSpec.newBuilder().setName("web2").putLabels("role", "web")).build(),
        Vm.newBuilder().setSpec(VmSpec.newBuilder().setName("db").putLabels("role", "db").putLabels("tier", "1")).build(),
        Vm.newBuilder().setSpec(VmSpec.newBuilder().setName("web1").putLabels("role", "web")).build());
    assertThat(AtPrompt.targets(vms)).containsExactly("@db", "@web1", "@web2", "@role=db", "@role=web", "@tier=1", "@host");
  }

  @Test
  void aSyntaxError_isShownWithACaretUnderItsColumn() {
    assertThat(AtPrompt.caret("@a ls |", 7)).isEqualTo("  @a ls |\n        ^\n");
  }
}
