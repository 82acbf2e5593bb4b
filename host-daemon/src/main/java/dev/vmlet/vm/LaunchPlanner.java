package dev.vmlet.vm;

import dev.vmlet.spec.BootImage;
import dev.vmlet.spec.DirectBoot;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.ImageResolver;
import dev.vmlet.spec.OciReference;
import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.Share;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import dev.vmlet.cloudinit.NoCloudSeed;
import dev.vmlet.cloudinit.SeedIso;
import dev.vmlet.spec.UserData;
import dev.vmlet.disk.Disks;
import dev.vmlet.net.HostPorts;
import dev.vmlet.qemu.Accel;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.qemu.AttachedDisk;
import dev.vmlet.qemu.CpuPinning;
import dev.vmlet.qemu.Firmware;
import dev.vmlet.qemu.Hugepages;
import dev.vmlet.qemu.QemuCommandBuilder;
import dev.vmlet.qemu.QemuLaunch;
import dev.vmlet.qemu.QemuSandbox;
import dev.vmlet.qemu.QemuUser;
import dev.vmlet.qemu.HostTsc;
import dev.vmlet.net.TapDevices;
import java.nio.file.Files;
import dev.vmlet.qemu.VmFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import dev.vmlet.cloudinit.SshKeys;
import dev.vmlet.vfio.Gpus;
import dev.vmlet.share.ShareHost;
import dev.vmlet.share.Virtiofsd;
import dev.vmlet.tpm.Swtpm;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything between a VM's config and its QEMU command line: the boot image, the accelerator,
 * host ports, disks, hugepages, firmware. Start and dry run go through the same checks; only a
 * start creates files.
 */
final class LaunchPlanner {
  /** The command line to run and what was chosen on the way. */
  record Plan(List<String> argv, Accel accel, List<PortForward> forwards) {}

  private final ImageResolver images;
  private final AccelProbe probe;
  private final Disks disks;
  private final Hugepages hugepages;
  private final String qemuBinary;
  private final TapDevices taps;
  private final Gpus gpus;
  private final QemuUserReach reach;

  LaunchPlanner(ImageResolver images, AccelProbe probe, Disks disks, Path sysRoot, Gpus gpus, String qemuBinary) {
    this.images = images;
    this.probe = probe;
    this.disks = disks;
    this.reach = new QemuUserReach(disks);
    this.hugepages = new Hugepages(sysRoot);
    this.taps = new TapDevices(sysRoot);
    this.gpus = gpus;
    this.qemuBinary = qemuBinary;
  }

  /**
   * Makes what a cloud image needs before its first start: for "debian", links of the cached
   * image's files (a rebuild of the cache then never changes this VM's base) and its root disk in
   * the config; for every cloud image, the VM's SSH key pair.
   *
   * @return the config to keep (with the root disk for "debian")
   */
  VmConfig prepareCloudImage(VmConfig config, VmFiles files) throws IOException {
    return prepareCloudImage(config, files, null);
  }

  /**
   * @param template the directory of the template a clone is made from (its config already names
   *     the template's root disk; the kernel, initrd and SSH key pair come from the template), or null
   */
  VmConfig prepareCloudImage(VmConfig config, VmFiles files, Path template) throws IOException {
    if (!config.attachesSeed()) {
      return config;
    }
    if (config.image().equals("debian")) {
      Files.createDirectories(files.baseDir());
      if (template == null) {
        Path cache = images.debian();
        for (String f : List.of("root.qcow2", "vmlinuz", "initrd.img")) {
          linkOrCopy(cache.resolve(f), files.baseDir().resolve(f));
        }
        config = config.withRootDisk(new DiskConfig("root", files.baseDir().resolve("root.qcow2").toString(), 0, false));
      }
    }
    if (template != null) {
      takeCloudFiles(template, files);
    }
    SshKeys.ensure(files.sshDir(), "vmlet@" + config.name());
    return config;
  }

  /**
   * Gives a VM made from the template in {@code template} (a clone, or the helper QEMU that splits
   * the template's RAM) what the template keeps of a cloud image: the kernel and initrd (linked)
   * and the SSH key pair the template's guest authorized (copied: a resumed guest runs no cloud-init
   * that would authorize a new one). A template of a micro or kernel VM keeps neither.
   */
  static void takeCloudFiles(Path template, VmFiles files) throws IOException {
    Path boot = template.resolve(VmTemplates.BOOT_DIR);
    if (Files.isDirectory(boot)) {
      Files.createDirectories(files.baseDir());
      for (String f : VmTemplates.BOOT_FILES) {
        linkOrCopy(boot.resolve(f), files.baseDir().resolve(f));
      }
    }
    Path ssh = template.resolve(VmTemplates.SSH_DIR);
    if (Files.isRegularFile(ssh.resolve("id_ed25519"))) {
      Files.createDirectories(files.sshDir());
      for (String f : List.of("id_ed25519", "id_ed25519.pub")) {
        Files.copy(ssh.resolve(f), files.sshDir().resolve(f), StandardCopyOption.COPY_ATTRIBUTES);
      }
    }
  }

  private static void linkOrCopy(Path from, Path to) throws IOException {
    try {
      Files.createLink(to, from);
    } catch (IOException | UnsupportedOperationException e) {
      Files.copy(from, to); // another file system
    }
  }

  /**
   * What create checks before it writes anything: the boot files, base images, TAP device and
   * passed-through devices exist. Start checks them again: they may have gone since.
   */
  void checkHost(VmConfig config, VmFiles files) {
    if (config.image().equals("debian")) {
      images.debian(); // its files are linked into the VM after these checks
    } else {
      boot(config, files, VmException.Kind.INVALID_ARGUMENT);
    }
    disks.checkBases(config.disks());
    ShareHost.check(config.shares(), Virtiofsd.BINARY, ShareHost.root(), VmException.Kind.INVALID_ARGUMENT);
    if (config.shares().stream().anyMatch(Share::ninep)) {
      // QEMU serves 9p shares as its user (a root daemon's): a directory it cannot reach is refused
      // at create, before anything is written, not at the first start.
      try {
        QemuSandbox.user().ifPresent(u -> reach.checkShares(u, config));
      } catch (IllegalStateException e) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, e.getMessage());
      }
    }
    checkDevices(config);
    if (!config.platform().driversIso().isEmpty()) {
      readable(config.platform().driversIso(), "drivers_iso", VmException.Kind.INVALID_ARGUMENT);
    }
    // After the checks of the user's input: a bad path is reported as such even on a host that
    // has not built the bundle yet.
    if (config.attachesSeed()) {
      images.agentBundle();
    }
  }

  private void checkDevices(VmConfig config) {
    if (config.platform().tpm()) {
      Swtpm.check(Swtpm.BINARY);
    }
    if (config.network().isTap()) {
      taps.require(config.network().tap());
    }
    if (!config.gpus().isEmpty()) {
      try {
        gpus.check(addresses(config));
      } catch (IOException e) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, "gpus: " + e.getMessage(), e);
      }
    }
  }

  static List<String> addresses(VmConfig config) {
    return config.gpus().stream().map(PciAddress::value).toList();
  }

  /** The functions passed through for the config's GPUs: each and its companions on the host. */
  private List<PciAddress> vfioFunctions(VmConfig config) {
    if (config.gpus().isEmpty()) {
      return List.of();
    }
    try {
      return gpus.expand(addresses(config)).stream().map(d -> new PciAddress(d.address())).toList();
    } catch (IOException e) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "gpus: " + e.getMessage(), e);
    }
  }

  /**
   * @param missing the kind of error for a user's kernel file that is not there: a bad argument at
   *     create, a failed precondition when it went away later
   * @return the kernel to boot (for a micro image, the ELF kernel or the bzImage as the platform's
   *     firmware takes it: {@link BootImage#forPlatform}), or null when firmware boots the first disk
   */
  BootImage boot(VmConfig config, VmFiles files, VmException.Kind missing) {
    BootImage boot = bootFiles(config, files, missing);
    return boot == null ? null : boot.forPlatform(config.platform());
  }

  private BootImage bootFiles(VmConfig config, VmFiles files, VmException.Kind missing) {
    return switch (config.image()) {
      case "micro", "micro-generic" -> images.resolve(config.image());
      case "disk" -> null;
      case "debian" -> new BootImage(readable(files.baseDir().resolve("vmlinuz").toString(), "the debian image's kernel", missing),
          readable(files.baseDir().resolve("initrd.img").toString(), "the debian image's initrd", missing));
      case "kernel" -> {
        DirectBoot d = config.directBoot();
        Path kernel = readable(d.kernel(), "kernel.path", missing);
        yield new BootImage(kernel, d.initrd().isEmpty() ? null : readable(d.initrd(), "kernel.initrd", missing));
      }
      default -> {
        if (!OciReference.isOci(config.image())) {
          throw new IllegalStateException("unknown image " + config.image());
        }
        yield images.resolve(config.image());
      }
    };
  }

  /** The NoCloud seed: the VM's identity, DHCP on its MAC, and vmlet's user-data merged with the user's. */
  private static void writeSeed(VmConfig config, String instanceId, VmFiles files) throws IOException {
    List<String> keys = new ArrayList<>();
    keys.add(Files.readString(files.sshDir().resolve("id_ed25519.pub")).strip());
    keys.addAll(config.cloudInit().sshKeys());
    UserData user = config.cloudInit().userData().isEmpty() ? null : UserData.parse(config.cloudInit().userData());
    Map<String, String> seed = new LinkedHashMap<>();
    seed.put("meta-data", NoCloudSeed.metaData(instanceId, config.name()));
    seed.put("network-config", NoCloudSeed.networkConfig(QemuCommandBuilder.mac(instanceId)));
    seed.put("user-data", NoCloudSeed.userData(instanceId, keys, user, config.platform().agentOnSerial(), config.shares(),
        config.httpProxy()));
    SeedIso.write(files.seedIso(), seed);
  }

  private static Path readable(String file, String field, VmException.Kind missing) {
    Path p = Path.of(file);
    if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
      throw new VmException(missing, field + " " + file + " does not exist or is not a readable file");
    }
    return p;
  }

  /**
   * KVM as the daemon probed it, if QEMU's user can open /dev/kvm too; otherwise TCG for "auto" and
   * an error for "kvm", saying how to let the user in.
   */
  private Accel kvmFor(QemuUser user, String requested, Accel kvm) {
    String denied = user.denied(probe.kvmDevice(), true, "the KVM device");
    if (denied == null) {
      return kvm;
    }
    String why = denied + " (Debian's qemu-system packages make /dev/kvm 0660 group kvm)";
    if (requested.equals("kvm")) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "KVM requested but not usable: " + why);
    }
    return new Accel("tcg", why + "; using TCG");
  }

  /** QEMU opens a TAP through this device; the kernel then checks the TAP's owner and group. */
  static final Path TUN = Path.of("/dev/net/tun");

  /** The user's forwards plus guest port 22 on a free loopback port, unless the user forwards 22. */
  static List<PortForward> withSsh(List<PortForward> forwards) {
    boolean has22 = forwards.stream().anyMatch(f -> f.guestPort() == SSH_PORT && f.protocol().equals("tcp"));
    if (has22) {
      return forwards;
    }
    List<PortForward> out = new ArrayList<>(forwards);
    out.add(new PortForward("tcp", "127.0.0.1", 0, SSH_PORT));
    return out;
  }

  static final int SSH_PORT = 22;

  /**
   * @param create make the VM's disks and UEFI variables (a start); false for a dry run
   * @throws VmException when the host cannot run this config, saying why
   */
  Plan plan(VmConfig config, String instanceId, VmFiles files, boolean create) throws IOException {
    BootImage boot = boot(config, files, VmException.Kind.FAILED_PRECONDITION);
    ShareHost.check(config.shares(), Virtiofsd.BINARY, ShareHost.root(), VmException.Kind.FAILED_PRECONDITION);
    checkDevices(config);
    if (!config.platform().driversIso().isEmpty()) {
      readable(config.platform().driversIso(), "drivers_iso", VmException.Kind.FAILED_PRECONDITION);
    }
    QemuSandbox.Confinement confinement;
    Accel accel;
    try {
      confinement = QemuSandbox.confinement(qemuBinary);
      accel = probe.resolve(config.accel());
    } catch (IllegalStateException e) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, e.getMessage());
    }
    QemuUser user = confinement.user();
    if (user != null && config.network().isTap()) {
      taps.requireUsableBy(config.network().tap(), user);
      String denied = user.denied(TUN, true, "the TUN device");
      if (denied != null) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, "network.tap: " + denied
            + " (udev's default for /dev/net/tun is 0666: chmod 0666 /dev/net/tun)");
      }
    }
    if (user != null && accel.name().equals("kvm")) {
      accel = kvmFor(user, config.accel(), accel);
    }
    CpuPinning.check(config.tuning().cpuPinning());
    Path hugepagesMount = config.tuning().hugepages() ? hugepages.require(config.memoryMib()) : null;
    if (hugepagesMount != null && user != null) {
      hugepagesMount = hugepagesMount.resolve(QemuSandbox.USER); // a directory of its own that it may create files in
      if (create) {
        Files.createDirectories(hugepagesMount);
        user.handOver(hugepagesMount);
      }
    }
    Firmware firmware = !config.platform().firmware().equals("uefi") ? null
        : config.platform().windows() ? Firmware.findSecureBoot() : Firmware.find();
    List<PortForward> forwards = config.network().isTap() ? List.of() : HostPorts.resolve(withSsh(config.forwards()));
    List<AttachedDisk> attached;
    if (create) {
      attached = disks.prepare(config.disks(), files);
      if (firmware != null) {
        disks.ensureUefiVars(firmware.varsTemplate(), files.uefiVars());
      }
    } else {
      attached = disks.planned(config.disks(), files);
    }
    List<Path> oemStrings = List.of();
    if (create) {
      AgentToken.ensure(files.agentToken());
      oemStrings = OemStringFiles.write(config, files);
      GuestIdentity.write(files.identity(), instanceId, config.name());
    }
    List<Path> readOnly = List.of();
    if (config.attachesSeed()) {
      Path bundle = images.agentBundle();
      if (create) {
        writeSeed(config, instanceId, files);
      }
      readOnly = List.of(files.seedIso(), bundle);
    }
    if (user != null) {
      if (create) {
        QemuUserReach.handOver(user, files, attached, firmware);
        if (!oemStrings.isEmpty()) {
          user.handOver(oemStrings.get(0).getParent());
          for (Path f : oemStrings) {
            user.handOver(f);
          }
        }
      }
      if (create) {
        reach.check(user, config, boot, files, attached, firmware, readOnly);
      } else {
        // A dry run creates nothing: the run directory, disks, UEFI variables, seed and token do
        // not exist yet and are QEMU's user's once a start makes them; the inputs must be reachable now.
        reach.checkInputs(user, config, boot, firmware, readOnly.stream().filter(f -> !f.equals(files.seedIso())).toList());
      }
    }
    List<String> argv = QemuCommandBuilder.build(new QemuLaunch(qemuBinary, config, instanceId, accel.name(), boot,
        files, forwards, attached, hugepagesMount, firmware, HostTsc.khz(Path.of("/proc/cpuinfo")), readOnly, vfioFunctions(config),
        confinement));
    return new Plan(argv, accel, forwards);
  }
}
