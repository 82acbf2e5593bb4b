package dev.vmlet.image;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent bundle's agent-tcg-flags.sh, run by the real sh against fake /sys trees: C2 and the two
 * intrinsics go off only in a QEMU machine without kvm-clock (TCG), never under KVM or elsewhere.
 */
class AgentTcgFlagsTest {
  @TempDir Path tmp;

  private static final String OFF = "-XX:TieredStopAtLevel=1 -XX:UseAVX=0 -XX:-UseSHA -XX:+UnlockDiagnosticVMOptions -XX:-UseCRC32CIntrinsics -Dvmlet.agent.tcg=true";

  /** TCG_FLAGS as the script sets it, with {@code sys} as /sys (null entries: no such file). */
  private String flags(String vendor, String clocks) throws Exception {
    Path script = tmp.resolve("agent-tcg-flags.sh");
    try (InputStream in = getClass().getResourceAsStream("/dev/vmlet/image/agent-tcg-flags.sh")) {
      Files.write(script, in.readAllBytes());
    }
    Path sys = Files.createTempDirectory(tmp, "sys");
    if (vendor != null) {
      Files.createDirectories(sys.resolve("class/dmi/id"));
      Files.writeString(sys.resolve("class/dmi/id/sys_vendor"), vendor + "\n");
    }
    if (clocks != null) {
      Files.createDirectories(sys.resolve("devices/system/clocksource/clocksource0"));
      Files.writeString(sys.resolve("devices/system/clocksource/clocksource0/available_clocksource"), clocks + " \n");
    }
    ProcessBuilder pb = new ProcessBuilder("sh", "-c", ". \"$0\"; printf '%s|%s' \"$TCG_FLAGS\" \"${_vendor-unset}\"", script.toString());
    pb.environment().put("VMLET_AGENT_SYS", sys.toString());
    pb.redirectErrorStream(true);
    Process p = pb.start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("sh ended").isTrue();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as(out).isZero();
    assertThat(out).as("its own variables are unset again").endsWith("|unset");
    return out.substring(0, out.lastIndexOf('|'));
  }

  @Test
  void aQemuMachineWithoutKvmClock_isTcg_andGetsC1AloneAndBothIntrinsicsOff() throws Exception {
    assertThat(flags("QEMU", "tsc hpet acpi_pm")).isEqualTo(OFF);
  }

  @Test
  void underKvm_c2AndTheIntrinsicsStayOn() throws Exception {
    assertThat(flags("QEMU", "kvm-clock tsc hpet acpi_pm")).isEmpty();
    assertThat(flags("QEMU", "tsc kvm-clock")).isEmpty();
  }

  @Test
  void anotherMachine_orNoSysfs_keepsTheJvmsDefaults() throws Exception {
    assertThat(flags("Dell Inc.", "tsc hpet acpi_pm")).isEmpty();
    assertThat(flags(null, null)).isEmpty();
    assertThat(flags("QEMU", null)).isEqualTo(OFF); // no clock sources listed: still no kvm-clock
  }
}
