package dev.vmlet.vm;

import dev.vmlet.spec.VmException;
import static dev.vmlet.vm.VmState.*;
import static dev.vmlet.vm.VmTransitions.Operation.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.vm.VmTransitions.Operation;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class VmTransitionsTest {
  /** The whole expected matrix, written out independently of the table it checks. */
  private static final Map<Operation, Set<VmState>> EXPECTED = new EnumMap<>(Operation.class);

  static {
    EXPECTED.put(START, EnumSet.of(CREATED, STOPPED, VmState.CRASHED));
    EXPECTED.put(STOP, EnumSet.of(RUNNING, PAUSED, STOPPED, VmState.CRASHED));
    EXPECTED.put(PAUSE, EnumSet.of(RUNNING));
    EXPECTED.put(RESUME, EnumSet.of(PAUSED));
    EXPECTED.put(REBOOT, EnumSet.of(RUNNING));
    EXPECTED.put(EXEC, EnumSet.of(RUNNING));
    EXPECTED.put(WAIT_FOR_AGENT, EnumSet.of(STARTING, RUNNING));
    EXPECTED.put(CONSOLE, EnumSet.of(RUNNING, PAUSED));
    EXPECTED.put(SNAPSHOT, EnumSet.of(RUNNING, PAUSED, STOPPED, VmState.CRASHED));
    EXPECTED.put(DELETE, EnumSet.of(CREATED, STOPPED, VmState.CRASHED));
  }

  @Test
  void everyOperationInEveryState_isAllowedExactlyWhereExpected() {
    assertThat(EXPECTED.keySet()).containsExactlyInAnyOrder(Operation.values());
    for (Operation op : Operation.values()) {
      for (VmState s : VmState.values()) {
        boolean expected = EXPECTED.get(op).contains(s);
        assertThat(op.allowedIn(s)).as(op + " in " + s).isEqualTo(expected);
        if (!expected) {
          assertThatThrownBy(() -> VmTransitions.require("vm1", s, op))
              .as(op + " in " + s).isInstanceOf(VmStateException.class).hasMessageEndingWith("it is " + s);
        }
      }
    }
  }

  @Test
  void aRefusedOperation_namesTheVmAndItsState() {
    assertThatThrownBy(() -> VmTransitions.require("web1", STOPPED, EXEC))
        .hasMessage("cannot exec in VM 'web1': it is STOPPED")
        .satisfies(e -> assertThat(((VmException) e).kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION));
  }

  @Test
  void theNormalLifecycle_isAllowed() {
    assertThat(VmTransitions.allowed(CREATED, STARTING)).isTrue();
    assertThat(VmTransitions.allowed(STARTING, RUNNING)).isTrue();
    assertThat(VmTransitions.allowed(RUNNING, PAUSED)).isTrue();
    assertThat(VmTransitions.allowed(PAUSED, RUNNING)).isTrue();
    assertThat(VmTransitions.allowed(RUNNING, STOPPING)).isTrue();
    assertThat(VmTransitions.allowed(STOPPING, STOPPED)).isTrue();
    assertThat(VmTransitions.allowed(STOPPED, STARTING)).isTrue();
    assertThat(VmTransitions.allowed(RUNNING, VmState.CRASHED)).isTrue();
  }

  @Test
  void startingARunningVm_failsNamingTheState() {
    assertThatThrownBy(() -> VmTransitions.check("web1", RUNNING, STARTING, "start"))
        .isInstanceOf(VmStateException.class).hasMessage("cannot start VM 'web1': it is RUNNING");
  }

  @Test
  void everyStateHasARow() {
    for (VmState from : VmState.values()) {
      for (VmState to : VmState.values()) {
        VmTransitions.allowed(from, to); // throws NullPointerException if a row is missing
      }
    }
  }
}
