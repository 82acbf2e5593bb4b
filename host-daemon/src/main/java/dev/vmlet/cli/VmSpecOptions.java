package dev.vmlet.cli;

import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.api.VmSpecs;
import dev.vmlet.spec.CloudInitConfig;
import dev.vmlet.spec.DirectBoot;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.RestartPolicy;
import dev.vmlet.spec.Share;
import dev.vmlet.spec.Network;
import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.Platform;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.Tuning;
import dev.vmlet.spec.VmConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import dev.vmlet.spec.VmException;
import picocli.CommandLine.Option;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The options that describe a VM, shared by launch and dry-run. */
final class VmSpecOptions {
  @Option(names = "--name", required = true, description = "VM name: lower-case letters, digits and '-', at most 63.")
  String name;

  @Option(names = "--cpus", defaultValue = "1", description = "vCPUs (default: ${DEFAULT-VALUE}).")
  int cpus;

  @Option(names = "--memory", defaultValue = "512", paramLabel = "MIB", description = "Memory in MiB (default: ${DEFAULT-VALUE}).")
  long memory;

  @Option(names = "--image", paramLabel = "micro|micro-generic|debian|PATH|disk|kernel|oci://REF",
      description = {"What to boot: micro (the built-in micro image; the default), micro-generic (the same on Debian's",
          "generic kernel, which mounts 9p shares; vmlet image build micro-generic), debian (vmlet image build debian;",
          "cloud-init installs the agent), PATH of a disk image (booted by its own boot loader, with cloud-init),",
          "disk (firmware boots the first --disk, which needs base=PATH), kernel (--kernel; the default with --kernel),",
          "oci://REGISTRY/REPOSITORY:TAG (a kernel + initramfs image from a registry, pulled into the daemon's cache",
          "when missing; vmlet image push/pull)."})
  String image = "";

  @Option(names = "--kernel", paramLabel = "PATH", description = "Boot this kernel directly (absolute path on the daemon's host).")
  String kernel;

  @Option(names = "--initrd", paramLabel = "PATH", description = "The initramfs for --kernel.")
  String initrd;

  @Option(names = "--cmdline", paramLabel = "LINE", description = "The kernel command line for --kernel; vmlet appends its own vmlet.* parameters.")
  String cmdline;

  @Option(names = "--machine", defaultValue = "q35",
      description = "q35 (default) or microvm (no PCI, virtio-mmio devices; micro or kernel boot only).")
  String machine;

  @Option(names = "--agent-port", paramLabel = "virtio|serial",
      description = "How the agent reaches the daemon: virtio (default; serial with --os windows) or serial, a legacy serial port (ttyS1, COM2) for guests without virtio drivers; q35 only.")
  String agentPort = "";

  @Option(names = "--os", paramLabel = "linux|windows",
      description = {"The guest's profile: linux (default) or windows: Hyper-V enlightenments, UEFI with Secure Boot, a TPM,",
          "the agent on COM2. Needs a Windows disk image (--image PATH); not the micro image or --kernel."})
  String os = "";

  @Option(names = "--tpm", description = "Give the VM a TPM 2.0 (swtpm, started and stopped with the VM; state kept with the VM); q35 only.")
  boolean tpm;

  @Option(names = "--drivers-iso", paramLabel = "PATH", description = "With --os windows: attach this drivers ISO (virtio-win) as a CD-ROM.")
  String driversIso;

  @Option(names = "--tap", paramLabel = "DEVICE",
      description = "Use this pre-created TAP device (on a bridge) instead of user-mode networking; no --forward then.")
  String tap = "";

  @Option(names = "--cloud-init", paramLabel = "FILE",
      description = "Your user-data (#cloud-config or a #! script) for a cloud image; merged with vmlet's, never replacing it.")
  Path cloudInit;

  @Option(names = "--ssh-key", paramLabel = "FILE|KEY",
      description = {"A public key to authorize for user vmlet as well as the VM's own key (a .pub file or the key line);",
          "repeatable. The keys of your running ssh-agent (ssh-add -L) are added too, unless --no-ssh-agent."})
  List<String> sshKeys = new ArrayList<>();

  @Option(names = "--no-ssh-agent", description = "Do not authorize the keys of your running ssh-agent in a cloud image.")
  boolean noSshAgent;

  @Option(names = "--credential", paramLabel = "NAME=VALUE",
      description = {"A systemd credential for the guest (SMBIOS type 11; systemd 252+ and the vmlet agent read it); repeatable.",
          "The value is on this command's own command line: prefer --credential-file for secrets."})
  List<String> credentials = new ArrayList<>();

  @Option(names = "--credential-file", paramLabel = "NAME=PATH",
      description = "A systemd credential whose value is the content of a local file (any bytes, at most 16 KiB); repeatable.")
  List<String> credentialFiles = new ArrayList<>();

  @Option(names = "--http-proxy", paramLabel = "URL",
      description = "The guest's HTTP and HTTPS proxy, e.g. http://10.0.2.2:3128: for the agent's programs, and in cloud images apt and login shells.")
  String httpProxy = "";

  @Option(names = "--gpu", paramLabel = "PCI-ADDRESS", description = "Pass through a host PCI device bound to vfio-pci, e.g. 0000:01:00.0; repeatable.")
  List<String> gpus = new ArrayList<>();

  @Option(names = "--accel", defaultValue = "auto", description = "auto, kvm or tcg (default: ${DEFAULT-VALUE}).")
  String accel;

  @Option(names = "--forward", paramLabel = "[ADDR:]HOST:GUEST[/udp]",
      description = {"Forward a host port (on 127.0.0.1 unless ADDR is given) to a guest port; repeatable.",
          "HOST 0 picks a free port; vmlet info shows it. Example: --forward 8080:80"})
  List<String> forwards = new ArrayList<>();

  @Option(names = "--label", paramLabel = "KEY=VALUE", description = "A label for selection (list --label); repeatable.")
  Map<String, String> labels = new LinkedHashMap<>();

  @Option(names = "--disk", paramLabel = "name=N,size=MIB[,base=PATH][,ephemeral]",
      description = {"A virtio disk (qcow2 overlay in the VM's state directory); repeatable, /dev/vda first.",
          "base=PATH: an image it starts from and never writes; ephemeral: recreated on every start."})
  List<String> disks = new ArrayList<>();

  @Option(names = "--firmware", paramLabel = "bios|uefi",
      description = "bios (default; uefi with --os windows) or uefi (OVMF; a per-VM copy of its variables).")
  String firmware = "";

  @Option(names = "--balloon", description = "Add a virtio balloon device.")
  boolean balloon;

  @Option(names = "--hugepages", description = "Back memory with 2 MiB hugepages (the host needs that many free).")
  boolean hugepages;

  @Option(names = "--cpu-pinning", split = ",", paramLabel = "CPU,...", description = "One host CPU per vCPU, e.g. 2,3.")
  List<Integer> cpuPinning = new ArrayList<>();

  @Option(names = "--share", paramLabel = "HOST_DIR:GUEST_PATH[:ro][:9p]",
      description = {"Share a host directory into the VM, mounted at GUEST_PATH on boot; repeatable. :ro mounts it read-only.",
          "virtiofs by default (the daemon must run as root: it runs virtiofsd); :9p uses QEMU's 9p server instead,",
          "for guest kernels with 9p (image micro-generic; not micro or debian). Machine q35 only."})
  List<String> shares = new ArrayList<>();

  @Option(names = "--restart", paramLabel = "no|on-failure|always", defaultValue = "no",
      description = {"What the daemon does with the VM when it starts and finds it not running: on-failure starts it",
          "again when it crashed (its QEMU ended with a replaced container or a rebooted host); always also when it",
          "was stopped (default: ${DEFAULT-VALUE})."})
  String restart;

  /**
   * HOST_DIR:GUEST_PATH followed by at most one of ro|rw and one of virtiofs|9p, in any order;
   * HOST_DIR relative to the current directory is made absolute.
   */
  static Share parseShare(String spec) {
    String[] parts = spec.split(":", -1);
    if (parts.length < 2 || parts.length > 4 || parts[0].isEmpty() || parts[1].isEmpty()) {
      throw new CliException("--share " + spec + ": expected HOST_DIR:GUEST_PATH, then optionally :ro and :9p");
    }
    String mode = null;
    String type = null;
    for (String opt : List.of(parts).subList(2, parts.length)) {
      boolean isMode = opt.equals("ro") || opt.equals("rw");
      boolean isType = opt.equals(Share.VIRTIOFS) || opt.equals(Share.NINE_P);
      if ((!isMode && !isType) || (isMode && mode != null) || (isType && type != null)) {
        throw new CliException("--share " + spec + ": after GUEST_PATH give at most one of ro or rw and one of virtiofs or 9p, got '"
            + opt + "'");
      }
      mode = isMode ? opt : mode;
      type = isType ? opt : type;
    }
    try {
      return new Share(absolute(parts[0]), parts[1], "ro".equals(mode), type);
    } catch (VmException e) {
      throw new CliException("--share " + spec + ": " + e.getMessage());
    }
  }

  static DiskConfig parseDisk(String spec) {
    String name = null;
    String base = "";
    long size = 0;
    boolean ephemeral = false;
    for (String part : spec.split(",")) {
      String[] kv = part.split("=", 2);
      switch (kv[0]) {
        case "name" -> name = kv.length > 1 ? kv[1] : "";
        case "base" -> base = kv.length > 1 ? kv[1] : "";
        case "size" -> {
          try {
            size = Long.parseLong(kv.length > 1 ? kv[1] : "");
          } catch (NumberFormatException e) {
            throw new CliException("--disk " + spec + ": size must be a whole number of MiB");
          }
        }
        case "ephemeral" -> ephemeral = true;
        default -> throw new CliException("--disk " + spec + ": unknown key '" + kv[0] + "' (name, size, base, ephemeral)");
      }
    }
    if (name == null) {
      throw new CliException("--disk " + spec + ": needs name=NAME");
    }
    return new DiskConfig(name, base, size, ephemeral);
  }

  /** Checks the options before anything is sent, and returns them as a spec. */
  VmSpec toSpec() {
    try {
      List<PortForward> parsed = new ArrayList<>();
      for (String f : forwards) {
        parsed.add(PortForward.parse(f));
      }
      List<DiskConfig> parsedDisks = new ArrayList<>();
      for (String d : disks) {
        parsedDisks.add(parseDisk(d));
      }
      if (kernel == null && (initrd != null || cmdline != null)) {
        throw new CliException("--initrd and --cmdline go with --kernel PATH");
      }
      VmConfig config = VmConfig.builder(name).vcpus(cpus).memoryMib(memory).image(image).accel(accel)
          .forwards(parsed).labels(labels).disks(parsedDisks).tuning(new Tuning(balloon, hugepages, cpuPinning))
          .platform(new Platform(machine, firmware, agentPort, os, tpm, driversIso == null ? "" : absolute(driversIso)))
          .directBoot(kernel == null ? null : new DirectBoot(absolute(kernel), initrd == null ? "" : absolute(initrd), cmdline))
          .network(new Network(tap))
          .gpus(gpus.stream().map(PciAddress::new).toList())
          .cloudInit(CloudInitConfig.of(readUserData(), sshKeys()))
          .shares(shares.stream().map(VmSpecOptions::parseShare).toList())
          .credentials(GuestOptions.credentials(credentials, credentialFiles))
          .httpProxy(httpProxy)
          .restart(RestartPolicy.parse(restart))
          .build();
      return VmSpecs.spec(config);
    } catch (VmException e) {
      throw new CliException(e.getMessage());
    }
  }

  private String readUserData() {
    if (cloudInit == null) {
      return "";
    }
    try {
      return Files.readString(cloudInit);
    } catch (IOException e) {
      throw new CliException("--cloud-init " + cloudInit + ": cannot read it: " + e.getMessage());
    }
  }

  /** The --ssh-key keys, then (cloud images only, which have an SSH server) the running ssh-agent's. */
  private List<String> sshKeys() {
    List<String> keys = new ArrayList<>();
    for (String k : sshKeys) {
      keys.add(GuestOptions.readSshKey(k));
    }
    boolean cloud = image.equals("debian") || image.equals("disk") || image.startsWith("/");
    if (cloud && !noSshAgent) {
      keys.addAll(GuestOptions.sshAgentKeys(System.getenv("SSH_AUTH_SOCK")));
    }
    return keys;
  }

  /** The daemon runs elsewhere in the file system's sense too: send absolute paths. */
  private static String absolute(String path) {
    return Path.of(path).toAbsolutePath().normalize().toString();
  }
}
