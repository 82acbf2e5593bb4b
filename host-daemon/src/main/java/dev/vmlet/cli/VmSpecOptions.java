package dev.vmlet.cli;

import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.vm.VmConfig;
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

  /** Checks the options before anything is sent, and returns them as a spec. */
  VmSpec toSpec() {
    try {
      new VmConfig(name, cpus, memory, image, accel);
    } catch (VmException e) {
      throw new CliException(e.getMessage());
    }
    return VmSpec.newBuilder().setName(name).setVcpus(cpus).setMemoryMib(memory).setImage(image).setAccel(accel).build();
  }
}
