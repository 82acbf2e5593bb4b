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

  @Option(names = "--image", paramLabel = "micro|debian|PATH|disk|kernel",
      description = {"What to boot: micro (the built-in micro image; the default), debian (vmlet image build debian;",
          "cloud-init installs the agent), PATH of a disk image (booted by its own boot loader, with cloud-init),",
          "disk (firmware boots the first --disk, which needs base=PATH), kernel (--kernel; the default with --kernel)."})
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

  @Option(names = "--agent-port", defaultValue = "virtio", paramLabel = "virtio|serial",
      description = "How the agent reaches the daemon: virtio (default) or serial, a legacy serial port (ttyS1) for guests without virtio drivers; q35 only.")
  String agentPort;

  @Option(names = "--tap", paramLabel = "DEVICE",
      description = "Use this pre-created TAP device (on a bridge) instead of user-mode networking; no --forward then.")
  String tap = "";

  @Option(names = "--cloud-init", paramLabel = "FILE",
      description = "Your user-data (#cloud-config or a #! script) for a cloud image; merged with vmlet's, never replacing it.")
  Path cloudInit;

  @Option(names = "--ssh-key", paramLabel = "FILE|KEY",
      description = "A public key to authorize for user vmlet as well as the VM's own key (a .pub file or the key line).")
  String sshKey;

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

  @Option(names = "--firmware", defaultValue = "bios", description = "bios (default) or uefi (OVMF; a per-VM copy of its variables).")
  String firmware;

  @Option(names = "--balloon", description = "Add a virtio balloon device.")
  boolean balloon;

  @Option(names = "--hugepages", description = "Back memory with 2 MiB hugepages (the host needs that many free).")
  boolean hugepages;

  @Option(names = "--cpu-pinning", split = ",", paramLabel = "CPU,...", description = "One host CPU per vCPU, e.g. 2,3.")
  List<Integer> cpuPinning = new ArrayList<>();

  @Option(names = "--share", paramLabel = "HOST_DIR:GUEST_PATH[:ro]",
      description = {"Share a host directory into the VM with virtiofs, mounted at GUEST_PATH on boot; repeatable.",
          ":ro mounts it read-only. Machine q35 only; the daemon must run as root (it runs virtiofsd)."})
  List<String> shares = new ArrayList<>();

  @Option(names = "--restart", paramLabel = "no|on-failure|always", defaultValue = "no",
      description = {"What the daemon does with the VM when it starts and finds it not running: on-failure starts it",
          "again when it crashed (its QEMU ended with a replaced container or a rebooted host); always also when it",
          "was stopped (default: ${DEFAULT-VALUE})."})
  String restart;

  /** HOST_DIR:GUEST_PATH[:ro|:rw]; HOST_DIR relative to the current directory is made absolute. */
  static Share parseShare(String spec) {
    String[] parts = spec.split(":", -1);
    if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
      throw new CliException("--share " + spec + ": expected HOST_DIR:GUEST_PATH or HOST_DIR:GUEST_PATH:ro");
    }
    boolean ro = false;
    if (parts.length == 3) {
      if (!parts[2].equals("ro") && !parts[2].equals("rw")) {
        throw new CliException("--share " + spec + ": the third part must be ro or rw, got '" + parts[2] + "'");
      }
      ro = parts[2].equals("ro");
    }
    try {
      return new Share(absolute(parts[0]), parts[1], ro);
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
          .platform(new Platform(machine, firmware, agentPort))
          .directBoot(kernel == null ? null : new DirectBoot(absolute(kernel), initrd == null ? "" : absolute(initrd), cmdline))
          .network(new Network(tap))
          .gpus(gpus.stream().map(PciAddress::new).toList())
          .cloudInit(new CloudInitConfig(readUserData(), readSshKey()))
          .shares(shares.stream().map(VmSpecOptions::parseShare).toList())
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

  private String readSshKey() {
    if (sshKey == null || sshKey.startsWith("ssh-") || sshKey.startsWith("ecdsa-") || sshKey.startsWith("sk-")) {
      return sshKey;
    }
    try {
      return Files.readString(Path.of(sshKey)).strip();
    } catch (IOException e) {
      throw new CliException("--ssh-key " + sshKey + ": not a key line and not a readable file: " + e.getMessage());
    }
  }

  /** The daemon runs elsewhere in the file system's sense too: send absolute paths. */
  private static String absolute(String path) {
    return Path.of(path).toAbsolutePath().normalize().toString();
  }
}
