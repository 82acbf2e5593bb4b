package dev.vmlet.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class VmTransitionsTest {
  @Test
  void theNormalLifecycle_isAllowed() {
    assertThat(VmTransitions.allowed(VmState.CREATED, VmState.STARTING)).isTrue();
    assertThat(VmTransitions.allowed(VmState.STARTING, VmState.RUNNING)).isTrue();
    assertThat(VmTransitions.allowed(VmState.RUNNING, VmState.STOPPING)).isTrue();
    assertThat(VmTransitions.allowed(VmState.STOPPING, VmState.STOPPED)).isTrue();
    assertThat(VmTransitions.allowed(VmState.STOPPED, VmState.STARTING)).isTrue();
  }

  @Test
  void startingARunningVm_failsNamingTheState() {
    assertThatThrownBy(() -> VmTransitions.check("web1", VmState.RUNNING, VmState.STARTING, "start"))
        .isInstanceOf(VmStateException.class).hasMessage("cannot start VM 'web1': it is RUNNING")
        .satisfies(e -> assertThat(((VmException) e).kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION));
  }

  @Test
  void everyStateHasAnEntry() {
    for (VmState from : VmState.values()) {
      for (VmState to : VmState.values()) {
        VmTransitions.allowed(from, to); // throws NullPointerException if a row is missing
      }
    }
  }
}
