package dev.vmlet.cli;

import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.vm.DiskConfig;
import dev.vmlet.vm.Platform;
import dev.vmlet.vm.PortForward;
import dev.vmlet.vm.Tuning;
import dev.vmlet.vm.VmConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import dev.vmlet.vm.VmException;
import picocli.CommandLine.Option;

/** The options that describe a VM, shared by launch and dry-run. */
final class VmSpecOptions {
  @Option(names = "--name", required = true, description = "VM name: lower-case letters, digits and '-', at most 63.")
  String name;

  @Option(names = "--cpus", defaultValue = "1", description = "vCPUs (default: ${DEFAULT-VALUE}).")
  int cpus;

  @Option(names = "--memory", defaultValue = "512", paramLabel = "MIB", description = "Memory in MiB (default: ${DEFAULT-VALUE}).")
  long memory;

  @Option(names = "--image", defaultValue = "micro", description = "Image to boot (default: ${DEFAULT-VALUE}).")
  String image;

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
    VmSpec.Builder b = VmSpec.newBuilder().setName(name).setVcpus(cpus).setMemoryMib(memory).setImage(image).setAccel(accel);
    try {
      List<PortForward> parsed = new ArrayList<>();
      for (String f : forwards) {
        parsed.add(PortForward.parse(f));
      }
      List<DiskConfig> parsedDisks = new ArrayList<>();
      for (String d : disks) {
        parsedDisks.add(parseDisk(d));
      }
      new VmConfig(name, cpus, memory, image, accel, parsed, labels, parsedDisks, new Tuning(balloon, hugepages, cpuPinning),
          new Platform("q35", firmware));
      b.setFirmware(firmware);
      b.setBalloon(balloon).setHugepages(hugepages).addAllCpuPinning(cpuPinning);
      for (DiskConfig d : parsedDisks) {
        b.addDisks(dev.vmlet.proto.v1.DiskSpec.newBuilder().setName(d.name()).setBaseImage(d.baseImage())
            .setSizeMib(d.sizeMib()).setEphemeral(d.ephemeral()));
      }
      b.putAllLabels(labels);
      for (PortForward f : parsed) {
        b.addForwards(dev.vmlet.proto.v1.PortForward.newBuilder().setProtocol(f.protocol())
            .setHostAddress(f.hostAddress()).setHostPort(f.hostPort()).setGuestPort(f.guestPort()));
      }
    } catch (VmException e) {
      throw new CliException(e.getMessage());
    }
    return b.build();
  }
}
