package dev.vmlet.at;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.host.HostAccess;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class VmTargetsTest {
  private static VmTargets targets(VmTargets.HostPolicy policy) {
    return new VmTargets(null, HostAccess.disabled(), policy, Duration.ofSeconds(1), v -> "");
  }

  @Test
  void atHost_forACallerThatIsNotAdmin_isRefusedBeforeTheHostIsReached() {
    assertThatThrownBy(() -> targets(VmTargets.HostPolicy.refuse("uid 1001 (alice) is operator")).agent("host"))
        .isInstanceOf(SecurityException.class)
        .hasMessage("@host (the daemon's host) needs the admin role; uid 1001 (alice) is operator");
  }

  @Test
  void atHost_forAnUnidentifiedCaller_failsClosed() {
    assertThatThrownBy(() -> targets(VmTargets.HostPolicy.refuse("an unidentified caller")).agent("host"))
        .isInstanceOf(SecurityException.class).hasMessageContaining("needs the admin role; an unidentified caller");
  }

  @Test
  void atHost_forAnAdmin_reachesTheHostRule_whichSaysHostExecIsOff() {
    assertThatThrownBy(() -> targets(VmTargets.HostPolicy.ALLOW).agent("host"))
        .isInstanceOf(SecurityException.class).hasMessageContaining("vmlet daemon --allow-host-exec");
  }
}
