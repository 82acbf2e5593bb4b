package dev.vmlet.vfio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import dev.vmlet.proc.FakeProcessRunner;
import java.util.ArrayList;

class GpusTest {
  static final String GPU = "0000:01:00.0";
  static final String AUDIO = "0000:01:00.1";
  static final String NIC = "0000:02:00.0";
  static final String BRIDGE = "0000:00:01.0";

  @TempDir Path tmp;
  FakeKernel k;
  Path ledgerFile;

  /** A host with one GPU (and its HDMI audio) behind a bridge in group 1, and a NIC in group 2. */
  @BeforeEach
  void host() throws Exception {
    k = new FakeKernel(tmp).driver(PciBus.VFIO)
        .device(BRIDGE, "0x060400", "0x8086", "pcieport", "1")
        .device(GPU, "0x030000", "0x10de", "nvidia", "1")
        .device(AUDIO, "0x040300", "0x10de", "snd_hda_intel", "1")
        .device(NIC, "0x020000", "0x8086", "e1000e", "2");
    ledgerFile = tmp.resolve("state/gpus.json");
  }

  Gpus gpus() throws Exception {
    return gpus(null);
  }

  Gpus gpus(Path hook) throws Exception {
    return new Gpus(new PciBus(k.sys, k), new GpuLedger(ledgerFile), hook);
  }

  @Test
  void theFakeKernel_movesDriverLinks_andFailsAsTheKernelDoes() throws Exception {
    Path sys = k.sys;
    assertThatThrownBy(() -> k.write(sys.resolve("bus/pci/drivers/vfio-pci/bind"), GPU)).hasMessageContaining("busy");
    assertThatThrownBy(() -> k.write(sys.resolve("bus/pci/drivers/vfio-pci/unbind"), GPU)).hasMessageContaining("not bound to vfio-pci");
    k.write(sys.resolve("bus/pci/drivers/nvidia/unbind"), GPU);
    assertThat(k.driverOf(GPU)).isEmpty();
    k.write(sys.resolve("bus/pci/devices/" + GPU + "/driver_override"), "vfio-pci");
    assertThatThrownBy(() -> k.write(sys.resolve("bus/pci/drivers/nvidia/bind"), GPU)).hasMessageContaining("driver_override");
    k.write(sys.resolve("bus/pci/drivers_probe"), GPU);
    assertThat(k.driverOf(GPU)).isEqualTo("vfio-pci");
  }

  @Test
  void discovery_findsTheGpuAndItsCompanion_withGroupAndDriver() throws Exception {
    List<Gpus.Gpu> list = gpus().list();
    assertThat(list).extracting(g -> g.device().address()).containsExactly(GPU, AUDIO);
    assertThat(list.get(0).companion()).isFalse();
    assertThat(list.get(1).companion()).isTrue();
    assertThat(list.get(0).device().driver()).isEqualTo("nvidia");
    assertThat(list.get(0).device().groupMembers()).containsExactly(BRIDGE, GPU, AUDIO);
    assertThat(gpus().expand(List.of(GPU))).extracting(PciDevice::address).containsExactly(GPU, AUDIO);
  }

  static Stream<Arguments> groups() {
    return Stream.of(
        Arguments.of("a bridge and the card's own functions", null, null),
        Arguments.of("a NIC bound to its driver in the group", "e1000e", "also holds 0000:03:00.0"),
        Arguments.of("an unbound function in the group", "", null),
        Arguments.of("a function already on vfio-pci in the group", "vfio-pci", null));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("groups")
  void groupViability(String what, String extraDriver, String refusal) throws Exception {
    if (extraDriver != null) {
      k.device("0000:03:00.0", "0x020000", "0x8086", extraDriver, "1"); // another card that shares the group
    }
    PciBus bus = new PciBus(k.sys, k);
    VfioBinder b = new VfioBinder(bus, new GpuLedger(ledgerFile));
    List<PciDevice> taking = List.of(bus.find(GPU).orElseThrow(), bus.find(AUDIO).orElseThrow());
    if (refusal == null) {
      b.checkViable(taking);
    } else {
      assertThatThrownBy(() -> b.checkViable(taking)).hasMessageContaining(refusal).hasMessageContaining("IOMMU group 1");
    }
  }

  @Test
  void withoutAnIommu_orWithoutVfioPci_theErrorSaysWhatToDo() throws Exception {
    FakeKernel bare = new FakeKernel(tmp.resolve("bare")).device(GPU, "0x030000", "0x10de", "nouveau", "");
    Gpus g = new Gpus(new PciBus(bare.sys, bare), new GpuLedger(tmp.resolve("l2.json")), null);
    assertThatThrownBy(() -> g.check(List.of(GPU))).hasMessageContaining("modprobe vfio-pci");
    bare.driver(PciBus.VFIO);
    assertThatThrownBy(() -> g.check(List.of(GPU))).hasMessageContaining("intel_iommu=on").hasMessageContaining("amd_iommu=on");
    assertThatThrownBy(() -> gpus().check(List.of("0000:09:00.0"))).hasMessageContaining("no PCI device 0000:09:00.0");
  }

  @Test
  void passthroughAndGiveBack_restoreTheOriginalDrivers() throws Exception {
    Gpus g = gpus();
    g.take("vm1", List.of(GPU));
    assertThat(k.driverOf(GPU)).isEqualTo("vfio-pci");
    assertThat(k.driverOf(AUDIO)).isEqualTo("vfio-pci");
    assertThat(k.overrideOf(GPU)).isEqualTo("vfio-pci");
    assertThat(Files.readString(ledgerFile)).contains("nvidia").contains("snd_hda_intel").contains("vm1");
    assertThat(g.list()).extracting(Gpus.Gpu::holder).containsOnly("vm1");
    g.giveBack("vm1");
    assertThat(k.driverOf(GPU)).isEqualTo("nvidia");
    assertThat(k.driverOf(AUDIO)).isEqualTo("snd_hda_intel");
    assertThat(k.overrideOf(GPU)).isEqualTo("(null)");
    assertThat(new GpuLedger(ledgerFile).entries()).isEmpty();
  }

  @Test
  void theLedgerIsWritten_beforeSysfsIsTouched() throws Exception {
    List<String> seen = new ArrayList<>();
    SysfsWriter checking = (attr, value) -> {
      seen.add(Files.exists(ledgerFile) ? Files.readString(ledgerFile) : "");
      k.write(attr, value);
    };
    new Gpus(new PciBus(k.sys, checking), new GpuLedger(ledgerFile), null).take("vm1", List.of(GPU));
    assertThat(seen).isNotEmpty().allSatisfy(l -> assertThat(l).contains(GPU).contains(AUDIO).contains("nvidia"));
  }

  @Test
  void aBindThatFailsHalfway_putsEveryFunctionBack() throws Exception {
    k.refuses.put(PciBus.VFIO, Set.of(AUDIO));
    Gpus g = gpus();
    assertThatThrownBy(() -> g.take("vm1", List.of(GPU))).hasMessageContaining("binding " + AUDIO + " to vfio-pci failed")
        .hasMessageContaining("given back");
    assertThat(k.driverOf(GPU)).isEqualTo("nvidia");
    assertThat(k.driverOf(AUDIO)).isEqualTo("snd_hda_intel");
    assertThat(k.overrideOf(GPU)).isEqualTo("(null)");
    assertThat(k.overrideOf(AUDIO)).isEqualTo("(null)");
    assertThat(new GpuLedger(ledgerFile).entries()).isEmpty();
  }

  @Test
  void aDriverThatWillNotLetGo_failsThePassthrough_andChangesNothing() throws Exception {
    k.stuck.add(GPU);
    assertThatThrownBy(() -> gpus().take("vm1", List.of(GPU))).hasMessageContaining("busy");
    assertThat(k.driverOf(GPU)).isEqualTo("nvidia");
    assertThat(k.overrideOf(GPU)).isEqualTo("(null)");
    assertThat(new GpuLedger(ledgerFile).entries()).isEmpty();
  }

  @Test
  void aDaemonRestart_givesBackWhatADeadVmStillHolds() throws Exception {
    gpus().take("vm1", List.of(GPU));
    gpus().recover(Set.of("vm1")); // a new daemon: vm1 still runs, nothing changes
    assertThat(k.driverOf(GPU)).isEqualTo("vfio-pci");
    gpus().recover(Set.of()); // another: vm1 is gone
    assertThat(k.driverOf(GPU)).isEqualTo("nvidia");
    assertThat(k.driverOf(AUDIO)).isEqualTo("snd_hda_intel");
    assertThat(new GpuLedger(ledgerFile).entries()).isEmpty();
  }

  @Test
  void twoVmsAskingForOneGpu_theSecondIsRefused() throws Exception {
    Gpus g = gpus();
    g.take("vm1", List.of(GPU));
    assertThatThrownBy(() -> g.take("vm2", List.of(GPU))).hasMessageContaining("held by VM 'vm1'");
    assertThat(g.holder(GPU)).isEqualTo("vm1");
    g.take("vm1", List.of(GPU)); // the holder again (a restart) is fine
  }

  @Test
  void theHook_runsBeforeAndAfter_andAFailingBeforeHookPassesNothing() throws Exception {
    Path log = tmp.resolve("hook.log");
    Path hook = tmp.resolve("hook.sh");
    Files.writeString(hook, "#!/bin/sh\necho \"$@\" >> " + log + "\n[ \"$1 $2\" != 'before vm-bad' ]\n");
    hook.toFile().setExecutable(true);
    Gpus g = gpus(hook);
    g.take("vm1", List.of(GPU));
    g.giveBack("vm1");
    assertThat(Files.readAllLines(log)).containsExactly("before vm1 " + GPU + " " + AUDIO, "after vm1 " + GPU + " " + AUDIO);
    assertThatThrownBy(() -> g.take("vm-bad", List.of(GPU))).hasMessageContaining("hook").hasMessageContaining("nothing was passed through");
    assertThat(k.driverOf(GPU)).isEqualTo("nvidia");
  }

  @Test
  void aHookThatHangs_failsThePassthroughAfterItsBound_andAFailingAfterHookIsOnlyLogged() throws Exception {
    FakeProcessRunner runner = new FakeProcessRunner();
    runner.when("/hook", "before", "vm-slow").thenTimeOut().when("/hook").thenFail(3, "display manager did not start\n");
    Gpus g = new Gpus(new PciBus(k.sys, k), new GpuLedger(ledgerFile), Path.of("/hook"), runner);
    assertThatThrownBy(() -> g.take("vm-slow", List.of(GPU)))
        .hasMessage("the GPU hook (before vm-slow) failed: /hook before vm-slow " + GPU + " " + AUDIO
            + " did not finish within 60 s; nothing was passed through");
    assertThat(k.driverOf(GPU)).isEqualTo("nvidia");
    runner.when("/hook", "before").thenPrint("");
    g.take("vm1", List.of(GPU));
    g.giveBack("vm1");
    assertThat(k.driverOf(GPU)).isEqualTo("nvidia");
    assertThat(runner.commandLines()).endsWith("/hook after vm1 " + GPU + " " + AUDIO);
  }

  @Test
  void takenFunctions_nameTheirGroupsDevice_once_andAMissingOneIsAnError() throws Exception {
    Gpus g = gpus();
    List<PciDevice> taken = g.take("vm1", List.of(GPU));
    assertThat(taken).hasSize(2); // the GPU and its audio function, one group
    Path node = tmp.toAbsolutePath().resolve("dev/vfio/1");
    assertThat(g.groupDevices(taken)).containsExactly(node);
    Files.delete(node);
    assertThatThrownBy(() -> g.groupDevices(taken))
        .hasMessageContaining(node + " does not exist although IOMMU group 1 is bound to vfio-pci");
  }
}
