package dev.vmlet.vm;

import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.DirectBoot;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.Network;
import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.Platform;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.qemu.AccelProbe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.qemu.QemuSandbox;
import dev.vmlet.vfio.FakeKernel;
import dev.vmlet.vfio.GpuLedger;
import dev.vmlet.vfio.Gpus;
import dev.vmlet.vfio.PciBus;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import org.junit.jupiter.api.Assumptions;

/** The manager's bookkeeping on paths that need no QEMU: refusals and failed starts. */
class VmManagerTest {
  @TempDir Path dir;
  private VmletPaths paths;
  private VmManager manager;

  @BeforeEach
  void setUp() throws Exception {
    paths = TestHost.paths(dir);
    manager = new VmManager(paths, TestHost.images(dir), TestHost.noKvm(dir), "/nonexistent/qemu", Clock.systemUTC());
  }

  @Test
  void create_persistsACreatedVm() {
    VmRecord r = manager.create(new VmConfig("a", 1, 256, "micro", "tcg"), false);
    assertThat(r.state()).isEqualTo(VmState.CREATED);
    assertThat(paths.vmStateDir("a").resolve("vm.json")).exists();
    assertThat(manager.list()).extracting(v -> v.record().config().name()).containsExactly("a");
  }

  @Test
  void start_refusedByTheStartCheck_changesNothing_andTheCheckSeesTheOwner() {
    List<VmOwner> asked = new ArrayList<>();
    VmManager checked = new VmManager(paths, name -> new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img")),
        new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "/nonexistent/qemu", Clock.systemUTC(),
        VmManager.defaultGpus(paths, dir.resolve("sys"), null), (record, daemonOwned) -> {
          asked.add(record.owner());
          throw new VmException(VmException.Kind.FAILED_PRECONDITION, "not yours any more");
        });
    VmOwner alice = new VmOwner("uid 1001 (alice)", "operator", 1001, 1001);
    checked.create(new VmConfig("a", 1, 256, "micro", "tcg"), false, alice);
    assertThatThrownBy(() -> checked.start("a")).hasMessage("not yours any more");
    assertThat(asked).containsExactly(alice);
    assertThat(checked.get("a").record().state()).isEqualTo(VmState.CREATED);
    assertThat(new VmStore(paths.stateDir()).loadAll()).singleElement().satisfies(r -> {
      assertThat(r.owner()).isEqualTo(alice); // kept across daemon restarts
      assertThat(r.state()).isEqualTo(VmState.CREATED);
    });
  }

  @Test
  void createAndStart_decidesTheHostPathsOnce_asTheRequestArrived_notAgainAtItsStart() {
    List<VmOwner> asked = new ArrayList<>();
    VmManager checked = new VmManager(paths, name -> new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img")),
        new AccelProbe("/nonexistent/qemu", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "/nonexistent/qemu", Clock.systemUTC(),
        VmManager.defaultGpus(paths, dir.resolve("sys"), null), (record, daemonOwned) -> asked.add(record.owner()));
    VmOwner alice = new VmOwner("uid 1001 (alice)", "operator", 1001, 1001);
    // QEMU cannot run here (/nonexistent/qemu): the start fails after the point where the check would be.
    assertThatThrownBy(() -> checked.create(new VmConfig("b", 1, 256, "micro", "tcg"), true, alice)).isInstanceOf(VmException.class);
    assertThat(asked).as("the create's own start").isEmpty();
    assertThatThrownBy(() -> checked.start("b")).isInstanceOf(VmException.class);
    assertThat(asked).as("a later start").containsExactly(alice);
  }

  @Test
  void create_twice_isAlreadyExists() {
    manager.create(new VmConfig("a", 1, 256, "micro", "tcg"), false);
    assertThatThrownBy(() -> manager.create(new VmConfig("a", 1, 256, "micro", "tcg"), false))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.ALREADY_EXISTS));
  }

  @Test
  void create_withAnImageThatIsNotBuilt_writesNothing() {
    VmManager noImage = new VmManager(paths, name -> {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "not built");
    }, new AccelProbe("q", dir, Duration.ofSeconds(1)), "q", Clock.systemUTC());
    assertThatThrownBy(() -> noImage.create(new VmConfig("a", 1, 256, "micro", "tcg"), true)).hasMessage("not built");
    assertThat(paths.stateDir()).doesNotExist();
    assertThat(noImage.list()).isEmpty();
  }

  @Test
  void create_withAKernelFileThatDoesNotExist_isInvalidArgument_andWritesNothing() {
    VmConfig c = VmConfig.builder("a").directBoot(new DirectBoot(dir.resolve("no-vmlinuz").toString(), "", "")).build();
    assertThatThrownBy(() -> manager.create(c, false))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.INVALID_ARGUMENT))
        .hasMessageContaining("kernel.path " + dir.resolve("no-vmlinuz") + " does not exist");
    assertThat(paths.stateDir()).doesNotExist();
    assertThat(manager.list()).isEmpty();
  }

  @Test
  void create_withAnInitrdThatDoesNotExist_isInvalidArgument() throws Exception {
    Path kernel = Files.writeString(dir.resolve("vmlinuz"), "k");
    VmConfig c = VmConfig.builder("a").directBoot(new DirectBoot(kernel.toString(), "/nonexistent/initrd", "")).build();
    assertThatThrownBy(() -> manager.create(c, false)).hasMessageContaining("kernel.initrd /nonexistent/initrd does not exist");
    assertThat(paths.stateDir()).doesNotExist();
  }

  @Test
  void create_withATapThatDoesNotExist_isFailedPrecondition_andWritesNothing() {
    VmConfig c = VmConfig.builder("a").network(new Network("vmlet-nope0")).build();
    assertThatThrownBy(() -> manager.create(c, false))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageContaining("there is no interface 'vmlet-nope0'").hasMessageContaining("ip tuntap add dev vmlet-nope0 mode tap");
    assertThat(paths.stateDir()).doesNotExist();
  }

  @Test
  void create_withAGpuThatDoesNotExist_isFailedPrecondition_andWritesNothing() {
    VmConfig c = VmConfig.builder("a").platform(new Platform("q35", "uefi"))
        .gpus(List.of(new PciAddress("0000:ff:1f.7"))).build();
    assertThatThrownBy(() -> manager.create(c, false)).hasMessageContaining("there is no PCI device 0000:ff:1f.7");
    assertThat(paths.stateDir()).doesNotExist();
  }

  @Test
  void create_withMoreMemoryThanTheHost_isRefused() {
    assertThatThrownBy(() -> manager.create(new VmConfig("a", 1, VmConfig.MAX_MEMORY_MIB, "micro", "tcg"), false))
        .hasMessageContaining("more than this host has");
  }

  @Test
  void dryRun_ofAVmNeverStarted_plansWithoutTheFilesOnlyAStartMakes() {
    Assumptions.assumeTrue(System.getProperty("user.name").equals("root"), "QEMU changes user only under root");
    // No run directory, disk overlay, seed or token exists for it: QEMU's user is checked on the inputs only.
    VmManager.DryRun plan = manager.dryRun(new VmConfig("never", 1, 256, "micro", "tcg"));
    assertThat(plan.argv()).contains("-kernel");
    assertThat(paths.vmRunDir("never")).doesNotExist();
  }

  @Test
  void dryRun_ofAnImageWithAnElfKernel_bootsItUnderSeaBiosAndQboot_andTheBzImageUnderUefi() throws Exception {
    Path vmlinux = Files.writeString(dir.resolve("img/vmlinux"), "not an ELF kernel either");
    VmManager m = new VmManager(paths, name -> new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img"), vmlinux),
        TestHost.noKvm(dir), "/nonexistent/qemu", Clock.systemUTC());
    assertThat(kernelOf(m.dryRun(VmConfig.builder("q35").image("micro").accel("tcg").build()))).isEqualTo(vmlinux.toString());
    assertThat(kernelOf(m.dryRun(VmConfig.builder("mvm").image("micro").accel("tcg").platform(new Platform("microvm", "bios")).build())))
        .isEqualTo(vmlinux.toString());
    BootImage image = new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img"), vmlinux);
    assertThat(image.forPlatform(new Platform("q35", "bios", "virtio", "linux", true, "")).kernel())
        .as("a TPM under SeaBIOS: the PVH-entered kernel saw no TPM2 table and no fw_cfg (TpmIT)").isEqualTo(dir.resolve("img/vmlinuz"));
    Assumptions.assumeTrue(Files.exists(Path.of("/usr/share/OVMF")), "needs OVMF for a UEFI plan (scripts/test installs it)");
    assertThat(kernelOf(m.dryRun(VmConfig.builder("efi").image("micro").accel("tcg").platform(new Platform("q35", "uefi")).build())))
        .as("OVMF loads no ELF kernel").isEqualTo(dir.resolve("img/vmlinuz").toString());
  }

  @Test
  void dryRun_ofAnImageWithoutAnElfKernel_bootsTheBzImage() {
    assertThat(kernelOf(manager.dryRun(VmConfig.builder("old").image("micro").accel("tcg").build())))
        .isEqualTo(dir.resolve("img/vmlinuz").toString());
  }

  private static String kernelOf(VmManager.DryRun plan) {
    return plan.argv().get(plan.argv().indexOf("-kernel") + 1);
  }

  @Test
  void dryRun_whenQemusUserCannotReachTheKernel_isRefusedNamingIt() throws Exception {
    Assumptions.assumeTrue(System.getProperty("user.name").equals("root"), "QEMU changes user only under root");
    Files.setPosixFilePermissions(dir.resolve("img"), PosixFilePermissions.fromString("rwx------"));
    assertThatThrownBy(() -> manager.dryRun(new VmConfig("never", 1, 256, "micro", "tcg")))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageContaining("which cannot read the kernel " + dir.resolve("img").toRealPath().resolve("vmlinuz"));
  }

  @Test
  void start_whenQemusUserCannotReachTheKernel_isRefusedNamingTheDirectory_andStartsNothing() throws Exception {
    Assumptions.assumeTrue(System.getProperty("user.name").equals("root"), "QEMU changes user only under root");
    Files.setPosixFilePermissions(dir.resolve("img"), PosixFilePermissions.fromString("rwx------"));
    manager.create(new VmConfig("a", 1, 256, "micro", "tcg"), false);
    Path img = dir.resolve("img").toRealPath();
    assertThatThrownBy(() -> manager.start("a"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageStartingWith("QEMU runs as user vmlet-qemu (uid ")
        .hasMessageContaining("which cannot read the kernel " + img.resolve("vmlinuz") + ": " + img + " (mode 0700, owner uid 0")
        .hasMessageContaining("fix it with: chmod o+x " + img);
    assertThat(manager.get("a").record().state()).isEqualTo(VmState.STOPPED);
    assertThat(manager.get("a").record().pid()).isZero();
  }

  @Test
  void start_whenQemusUserCannotReachABackingFileOfABaseImage_isRefusedNamingIt() throws Exception {
    Assumptions.assumeTrue(System.getProperty("user.name").equals("root"), "QEMU changes user only under root");
    Assumptions.assumeTrue(Files.exists(Path.of("/usr/bin/qemu-img")), "needs qemu-img (scripts/test installs it)");
    // pub/overlay.qcow2 is readable by anyone, but its backing file sits in a directory only root enters.
    Path hidden = Files.createDirectories(dir.resolve("hidden"));
    Path pub = Files.createDirectories(dir.resolve("pub"));
    Path backing = hidden.resolve("base.qcow2");
    Path overlay = pub.resolve("overlay.qcow2");
    QemuImg img = new QemuImg("/usr/bin/qemu-img");
    img.create(backing, null, null, 8);
    img.create(overlay, backing, "qcow2", 0);
    assertThat(img.info(overlay).backingFiles()).containsExactly(backing);
    Files.setPosixFilePermissions(hidden, PosixFilePermissions.fromString("rwx------"));
    VmManager m = new VmManager(paths, name -> new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img")),
        new AccelProbe("qemu-system-x86_64", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "/usr/bin/qemu-system-x86_64", Clock.systemUTC());
    m.create(VmConfig.builder("a").accel("tcg").disks(List.of(new DiskConfig("data", overlay.toString(), 0, false))).build(), false);
    assertThatThrownBy(() -> m.start("a"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageContaining("which cannot read a backing file of disk data's base image " + backing + ": " + hidden + " (mode 0700")
        .hasMessageContaining("fix it with: chmod o+x " + hidden);
    assertThat(m.get("a").record().pid()).isZero();
  }

  @Test
  void create_withABaseImageWhoseBackingFileIsGone_isRefusedAndWritesNothing() throws Exception {
    Assumptions.assumeTrue(Files.exists(Path.of("/usr/bin/qemu-img")), "needs qemu-img (scripts/test installs it)");
    QemuImg img = new QemuImg("/usr/bin/qemu-img");
    Path backing = dir.resolve("gone.qcow2");
    Path overlay = dir.resolve("overlay.qcow2");
    img.create(backing, null, null, 8);
    img.create(overlay, backing, "qcow2", 0);
    Files.delete(backing);
    VmManager m = new VmManager(paths, name -> new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img")),
        new AccelProbe("qemu-system-x86_64", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "/usr/bin/qemu-system-x86_64", Clock.systemUTC());
    assertThatThrownBy(() -> m.create(VmConfig.builder("a").accel("tcg")
        .disks(List.of(new DiskConfig("data", overlay.toString(), 0, false))).build(), false))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.INVALID_ARGUMENT))
        .hasMessageContaining("disks[data].base_image " + overlay + " is not an image qemu-img can read")
        .hasMessageContaining(backing.toString());
    assertThat(paths.vmStateDir("a")).doesNotExist();
  }

  @Test
  void start_whenQemuCannotRun_leavesTheVmStoppedWithTheReason_andNoRunFiles() {
    manager.create(new VmConfig("a", 1, 256, "micro", "tcg"), false);
    assertThatThrownBy(() -> manager.start("a"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.getMessage()).contains("cannot start VM 'a'"));
    VmView v = manager.get("a");
    assertThat(v.record().state()).isEqualTo(VmState.STOPPED);
    assertThat(v.record().lastError()).isNotBlank();
    assertThat(paths.vmRunDir("a")).doesNotExist();
    // The persisted record agrees with memory.
    assertThat(new VmStore(paths.stateDir()).loadAll()).singleElement()
        .satisfies(r -> assertThat(r.state()).isEqualTo(VmState.STOPPED));
  }

  @Test
  void stop_ofACreatedVm_failsNamingTheState() {
    manager.create(new VmConfig("a", 1, 256, "micro", "tcg"), false);
    assertThatThrownBy(() -> manager.stop("a", false, Duration.ofSeconds(1))).hasMessage("cannot stop VM 'a': it is CREATED");
  }

  @Test
  void delete_ofAStoppedVm_removesItsFiles() {
    manager.create(new VmConfig("a", 1, 256, "micro", "tcg"), false);
    manager.delete("a", false);
    assertThat(paths.vmStateDir("a")).doesNotExist();
    assertThatThrownBy(() -> manager.get("a"))
        .isInstanceOfSatisfying(VmException.class, e -> assertThat(e.kind()).isEqualTo(VmException.Kind.NOT_FOUND));
  }

  @Test
  void recover_doesNotAdoptAQemuThatStartedAtAnotherTime_andKillsNothing() throws Exception {
    // A live process whose command says "qemu", under the recorded pid, but started an hour away from
    // the recorded launch: a recycled pid. It must not be adopted, and it must not be killed.
    Path fake = dir.resolve("qemu-system-fake");
    Files.copy(Path.of("/bin/sleep"), fake);
    fake.toFile().setExecutable(true);
    Process other = new ProcessBuilder(fake.toString(), "60").start();
    try {
      Files.createDirectories(paths.vmRunDir("reused"));
      Files.writeString(paths.vmRunDir("reused").resolve("qemu.pid"), Long.toString(other.pid()));
      new VmStore(paths.stateDir()).save(VmRecord.created(new VmConfig("reused", 1, 256, "micro", "tcg"), "id", null)
          .withState(VmState.RUNNING).withStarted(other.pid(), "tcg", "", System.currentTimeMillis() - 3_600_000, "", List.of()));
      manager.recover();
      assertThat(manager.get("reused").record().state()).isEqualTo(VmState.CRASHED);
      assertThat(other.isAlive()).isTrue();
    } finally {
      other.destroyForcibly();
    }
  }

  @Test
  void recover_marksAVmWhoseQemuIsGoneAsCrashed() {
    new VmStore(paths.stateDir()).save(VmRecord.created(new VmConfig("gone", 1, 256, "micro", "tcg"), "id", null)
        .withState(VmState.RUNNING).withStarted(999_999_999L, "tcg", "", 1, "", List.of()));
    manager.recover();
    VmView v = manager.get("gone");
    assertThat(v.record().state()).isEqualTo(VmState.CRASHED);
    assertThat(v.record().lastError()).contains("exited while the daemon was down");
  }

  @Test
  void start_ofAVmStoredWithLessMemoryThanItsImageNeeds_isRefusedSayingWhatToDo_andStartsNothing() throws Exception {
    // Stored before the micro image's 256 MiB floor: made through the record, not the checked builder.
    new VmStore(paths.stateDir()).save(VmRecord.created(new VmConfig("small", 1, 128, "micro", "tcg"), "id", null));
    VmManager reloaded = new VmManager(paths, TestHost.images(dir), TestHost.noKvm(dir), "/nonexistent/qemu", Clock.systemUTC());
    reloaded.recover();
    assertThatThrownBy(() -> reloaded.start("small")).isInstanceOfSatisfying(VmException.class,
        e -> assertThat(e.kind()).isEqualTo(VmException.Kind.FAILED_PRECONDITION))
        .hasMessageContaining("the micro image needs at least 256 MiB").hasMessageContaining("got 128")
        .hasMessageContaining("--memory 256");
    assertThat(reloaded.get("small").record().state()).isEqualTo(VmState.CREATED);
    assertThat(paths.vmRunDir("small")).doesNotExist();
  }

  private FakeKernel gpuHost() throws Exception {
    return new FakeKernel(dir.resolve("fake")).driver("vfio-pci")
        .device("0000:01:00.0", "0x030000", "0x10de", "nvidia", "1")
        .device("0000:01:00.1", "0x040300", "0x10de", "snd_hda_intel", "1");
  }

  /** A manager whose GPUs are on a fake kernel; QEMU is the real one, which cannot open a fake device. */
  private VmManager withGpus(FakeKernel k) throws Exception {
    Gpus gpus = new Gpus(new PciBus(k.sys, k),
        new GpuLedger(paths.stateDir().resolve("gpus.json")), null);
    return new VmManager(paths, name -> new BootImage(dir.resolve("img/vmlinuz"), dir.resolve("img/initrd.img")),
        new AccelProbe("qemu-system-x86_64", dir.resolve("no-kvm"), Duration.ofSeconds(1)), "qemu-system-x86_64", Clock.systemUTC(), gpus);
  }

  @Test
  void aStartThatFails_givesTheGpuBack() throws Exception {
    Assumptions.assumeTrue(Files.exists(Path.of("/usr/share/OVMF")) && Files.exists(Path.of("/usr/bin/qemu-system-x86_64")),
        "needs QEMU and OVMF (scripts/test installs them)");
    FakeKernel k = gpuHost();
    VmManager m = withGpus(k);
    VmConfig c = VmConfig.builder("g").accel("tcg").platform(new Platform("q35", "uefi"))
        .gpus(List.of(new PciAddress("01:00.0"))).build();
    assertThatThrownBy(() -> m.create(c, true)).satisfies(e -> System.out.println("start failed as it must: " + e.getMessage()));
    // It was given to vfio-pci for the start, and back when the start failed.
    assertThat(k.writes).contains("bus/pci/drivers/vfio-pci/bind <- 0000:01:00.0", "bus/pci/drivers/nvidia/bind <- 0000:01:00.0",
        "bus/pci/drivers/snd_hda_intel/bind <- 0000:01:00.1");
    assertThat(k.driverOf("0000:01:00.0")).isEqualTo("nvidia");
    assertThat(k.driverOf("0000:01:00.1")).isEqualTo("snd_hda_intel");
    assertThat(m.gpus().holder("0000:01:00.0")).isNull();
    // Under root, QEMU's user was given the group's device before QEMU ran.
    Path group = dir.resolve("fake/dev/vfio/1");
    assertThat(group).exists();
    if (System.getProperty("user.name").equals("root")) {
      assertThat(Files.getAttribute(group, "unix:uid")).isEqualTo(QemuSandbox.user().orElseThrow().uid());
    }
  }

  @Test
  void aDaemonStart_givesBackTheGpuOfAVmThatNoLongerRuns() throws Exception {
    FakeKernel k = gpuHost();
    withGpus(k).gpus().take("gone", List.of("0000:01:00.0")); // as a daemon that died with VM 'gone' running
    assertThat(k.driverOf("0000:01:00.0")).isEqualTo("vfio-pci");
    VmManager next = withGpus(k);
    next.recover();
    assertThat(k.driverOf("0000:01:00.0")).isEqualTo("nvidia");
    assertThat(next.gpus().holder("0000:01:00.0")).isNull();
  }
}
