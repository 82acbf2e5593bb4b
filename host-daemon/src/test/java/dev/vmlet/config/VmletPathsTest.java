package dev.vmlet.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class VmletPathsTest {
  @Test
  void root_usesTheSystemDirectories() {
    VmletPaths p = VmletPaths.defaults(Map.of(), true, "/root");
    assertThat(p).isEqualTo(new VmletPaths(Path.of("/var/lib/vmlet"), Path.of("/run/vmlet"), Path.of("/var/cache/vmlet"),
        Path.of("/run/vmlet/vmlet.sock")));
  }

  @Test
  void aUser_usesTheXdgDirectories() {
    VmletPaths p = VmletPaths.defaults(Map.of("XDG_RUNTIME_DIR", "/run/user/1000"), false, "/home/ann");
    assertThat(p.stateDir()).isEqualTo(Path.of("/home/ann/.local/state/vmlet"));
    assertThat(p.cacheDir()).isEqualTo(Path.of("/home/ann/.cache/vmlet"));
    assertThat(p.socket()).isEqualTo(Path.of("/run/user/1000/vmlet/vmlet.sock"));
  }

  @Test
  void environment_overridesEachDirectory() {
    VmletPaths p = VmletPaths.defaults(Map.of("VMLET_STATE_DIR", "/s", "VMLET_RUN_DIR", "/r", "VMLET_CACHE_DIR", "/c"), true, "/root");
    assertThat(p).isEqualTo(new VmletPaths(Path.of("/s"), Path.of("/r"), Path.of("/c"), Path.of("/r/vmlet.sock")));
  }
}
