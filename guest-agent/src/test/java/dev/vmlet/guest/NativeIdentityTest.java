package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The clone's clock and MAC through libc, and the processes they fall back to. The real calls are
 * made here only where they change nothing (reads, a MAC the loopback refuses); the ones that set
 * something run in real clones (TemplateIT checks the clone's MAC and clock).
 */
class NativeIdentityTest {
  private static final String MAC = "52:54:00:aa:bb:0c";

  @Test
  void ifreq_isTheNameNulTerminated_thenAnEthernetSockaddrWithTheAddress() {
    byte[] r = NativeIdentity.ifreq("eth0", MAC);
    assertThat(r).hasSize(40);
    assertThat(new String(r, 0, 4)).isEqualTo("eth0");
    assertThat(r[4]).isZero();
    assertThat(r[16]).isEqualTo((byte) 1); // ARPHRD_ETHER, little-endian
    assertThat(r[17]).isZero();
    assertThat(java.util.Arrays.copyOfRange(r, 18, 24)).containsExactly(0x52, 0x54, 0x00, 0xaa, 0xbb, 0x0c);
    assertThat(java.util.Arrays.copyOfRange(r, 24, 40)).containsOnly(0);
  }

  @Test
  void ifreq_refusesABadNameOrAddress() {
    assertThatThrownBy(() -> NativeIdentity.ifreq("a-name-of-16-chr", MAC)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an interface name");
    assertThatThrownBy(() -> NativeIdentity.ifreq("", MAC)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeIdentity.ifreq("../x", MAC)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeIdentity.ifreq("eth0", "52:54:00:aa:bb")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an Ethernet address");
    assertThat(NativeIdentity.ifreq("a-name-of-15-ch", MAC)[15]).isZero();
  }

  @Test
  void libc_loadsHere_andReadsTheLoopbacksAddressFamily_andRefusesItAnEthernetAddress() throws Exception {
    Assumptions.assumeTrue(System.getProperty("os.name").equals("Linux"), "Linux only");
    assertThat(NativeIdentity.load()).isTrue();
    assertThat(NativeIdentity.ready()).isTrue();
    assertThat(NativeIdentity.hardwareFamily("lo")).isEqualTo(772); // ARPHRD_LOOPBACK
    // An Ethernet address on the loopback: the kernel says no (EINVAL or EOPNOTSUPP), and the errno is in the message.
    assertThatThrownBy(() -> NativeIdentity.setMac("lo", MAC)).isInstanceOf(IOException.class)
        .hasMessageContaining("SIOCSIFHWADDR on lo failed (errno");
    assertThatThrownBy(() -> NativeIdentity.hardwareFamily("no-such-if0")).isInstanceOf(IOException.class)
        .hasMessageContaining("errno 19"); // ENODEV
  }

  /** Records what it was asked; a step named in {@code failing} throws. */
  private static final class FakeCalls implements VmIdentity.Calls {
    final List<String> done = new ArrayList<>();
    final List<String> failing;

    FakeCalls(String... failing) {
      this.failing = List.of(failing);
    }

    @Override
    public void setClock(long unixMs) throws IOException {
      if (failing.contains("clock")) {
        throw new IOException("clock_settime failed (errno 1)");
      }
      done.add("clock " + unixMs);
    }

    @Override
    public void setMac(String dev, String mac) throws IOException {
      if (failing.contains(dev)) {
        throw new IOException("SIOCSIFHWADDR on " + dev + " failed (errno 95)");
      }
      done.add("mac " + dev + " " + mac);
    }
  }

  @Test
  void clockAndMac_goThroughLibc_withNoProcess_whenItIsSetUp() {
    FakeCalls calls = new FakeCalls();
    List<List<String>> processes = new ArrayList<>();
    String how = VmIdentity.setClockAndMac(1_796_198_325_631L, List.of("eth0"), MAC, calls, processes::add, true);
    assertThat(calls.done).containsExactly("clock 1796198325631", "mac eth0 " + MAC);
    assertThat(processes).isEmpty();
    assertThat(how).matches("clock by libc in \\d+ ms, MAC of eth0 by libc in \\d+ ms");
  }

  @Test
  void clockAndMac_runDateAndIp_whenLibcIsNotSetUp() {
    List<List<String>> processes = new ArrayList<>();
    String how = VmIdentity.setClockAndMac(1_796_198_325_631L, List.of("eth0"), MAC, null, processes::add, true);
    assertThat(processes).containsExactly(List.of("date", "-u", "-s", "@1796198326"),
        List.of("ip", "link", "set", "dev", "eth0", "address", MAC));
    assertThat(how).matches("clock by date in \\d+ ms, MAC of eth0 by ip in \\d+ ms");
  }

  @Test
  void aStepWhoseCallFails_fallsBackToItsProcess_andTheOthersStayCalls() {
    FakeCalls calls = new FakeCalls("eth1");
    List<List<String>> processes = new ArrayList<>();
    String how = VmIdentity.setClockAndMac(1_000L, List.of("eth0", "eth1"), MAC, calls, argv -> processes.add(argv) && false,
        false);
    assertThat(calls.done).containsExactly("clock 1000", "mac eth0 " + MAC);
    assertThat(processes).containsExactly(List.of("ip", "link", "set", "dev", "eth1", "address", MAC));
    assertThat(how).matches("clock by libc in \\d+ ms, MAC of eth0 by libc in \\d+ ms, MAC of eth1 by ip \\(failed\\) in \\d+ ms");
  }

  @Test
  void nothingToSet_withAnUnknownClockAndNoInterface() {
    assertThat(VmIdentity.setClockAndMac(0, List.of(), MAC, new FakeCalls(), argv -> true, true)).isEqualTo("nothing to set");
  }
}
