package dev.vmlet.qemu;

import dev.vmlet.vm.PortForward;
import dev.vmlet.vm.VmConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the exact {@code qemu-system-x86_64} argument list for a VM. Pure: the same inputs always
 * give the same list, and nothing is read from or written to the machine.
 */
public final class QemuCommandBuilder {
  /** The virtio-serial port name the guest agent opens. */
  public static final String AGENT_PORT = "dev.vmlet.agent.0";

  private QemuCommandBuilder() {}

  /**
   * @param accel the resolved accelerator, "kvm" or "tcg"
   * @param kernel direct-boot kernel
   * @param initrd direct-boot initramfs
   * @param forwards user-mode port forwards with their host ports chosen (none 0)
   * @param disks in order: the guest sees /dev/vda, /dev/vdb, ...
   * @param hugepagesMount the hugetlbfs mount when the config asks for hugepages, else null
   * @param firmware the OVMF files when the config asks for UEFI, else null
   */
  public static List<String> build(String qemuBinary, VmConfig config, String instanceId, String accel, Path kernel,
      Path initrd, VmFiles files, List<PortForward> forwards, List<AttachedDisk> disks, Path hugepagesMount,
      Firmware firmware) {
    if (!accel.equals("kvm") && !accel.equals("tcg")) {
      throw new IllegalArgumentException("accel must be resolved to kvm or tcg, got " + accel);
    }
    List<String> a = new ArrayList<>();
    a.add(qemuBinary);
    // debug-threads: vCPU threads are named "CPU n/KVM" (or TCG), which operators and tests can see.
    a.addAll(List.of("-name", config.name() + ",process=vmlet-" + config.name() + ",debug-threads=on"));
    a.addAll(List.of("-machine", "q35"));
    a.addAll(List.of("-accel", accel));
    if (accel.equals("kvm")) {
      a.addAll(List.of("-cpu", "host"));
    }
    a.addAll(List.of("-smp", Integer.toString(config.vcpus())));
    a.addAll(List.of("-m", config.memoryMib() + "M"));
    if (config.tuning().hugepages()) {
      if (hugepagesMount == null) {
        throw new IllegalArgumentException("hugepages requested but no hugetlbfs mount given");
      }
      a.addAll(List.of("-object", "memory-backend-file,id=mem0,size=" + config.memoryMib() + "M,mem-path="
          + opt(hugepagesMount) + ",share=off,prealloc=on"));
      a.addAll(List.of("-numa", "node,memdev=mem0"));
    }
    if (config.tuning().balloon()) {
      a.addAll(List.of("-device", "virtio-balloon-pci,id=balloon0"));
    }
    a.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none"));
    if (config.platform().firmware().equals("uefi")) {
      if (firmware == null) {
        throw new IllegalArgumentException("UEFI requested but no firmware given");
      }
      a.addAll(List.of("-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + opt(firmware.code())));
      a.addAll(List.of("-drive", "if=pflash,format=qcow2,unit=1,file=" + opt(files.uefiVars())));
    }
    a.addAll(List.of("-kernel", kernel.toString(), "-initrd", initrd.toString()));
    a.addAll(List.of("-append", kernelCommandLine(config, instanceId)));
    // The daemon holds the console socket: it keeps the bounded log and relays OpenConsole.
    a.addAll(List.of("-chardev", "socket,id=console,path=" + opt(files.consoleSocket()) + ",server=on,wait=off"));
    a.addAll(List.of("-serial", "chardev:console"));
    for (AttachedDisk d : disks) {
      a.addAll(List.of("-drive", "file=" + opt(d.file()) + ",format=qcow2,if=none,id=disk-" + d.name() + ",discard=unmap"));
      a.addAll(List.of("-device", "virtio-blk-pci,drive=disk-" + d.name() + ",serial=" + d.name()));
    }
    StringBuilder netdev = new StringBuilder("user,id=net0");
    for (PortForward f : forwards) {
      if (f.hostPort() == 0) {
        throw new IllegalArgumentException("forward to guest port " + f.guestPort() + " has no host port chosen");
      }
      String addr = f.hostAddress().contains(":") ? "[" + f.hostAddress() + "]" : f.hostAddress();
      netdev.append(",hostfwd=").append(f.protocol()).append(':').append(addr).append(':').append(f.hostPort())
          .append("-:").append(f.guestPort());
    }
    a.addAll(List.of("-netdev", netdev.toString()));
    a.addAll(List.of("-device", "virtio-net-pci,netdev=net0,mac=" + mac(instanceId)));
    a.addAll(List.of("-device", "virtio-serial-pci,id=vser0"));
    a.addAll(List.of("-chardev", "socket,id=agent,path=" + opt(files.agentSocket()) + ",server=on,wait=off"));
    a.addAll(List.of("-device", "virtserialport,bus=vser0.0,chardev=agent,name=" + AGENT_PORT));
    a.addAll(List.of("-qmp", "unix:" + opt(files.qmpSocket()) + ",server=on,wait=off"));
    a.addAll(List.of("-pidfile", files.pidFile().toString()));
    a.add("-daemonize");
    return a;
  }

  /** A stable, locally administered MAC for a VM, from its instance id (QEMU's 52:54:00 prefix). */
  static String mac(String instanceId) {
    int h = instanceId.hashCode();
    return String.format("52:54:00:%02x:%02x:%02x", (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
  }

  /** QEMU splits option values at ','; a literal comma in a path is written twice. */
  static String opt(Path path) {
    return path.toString().replace(",", ",,");
  }

  static String kernelCommandLine(VmConfig config, String instanceId) {
    return "console=ttyS0 panic=-1 vmlet.instance_id=" + instanceId + " vmlet.hostname=" + config.name();
  }

  /** The argument list as one line a shell would accept, for logs and GetVm. */
  public static String toShellLine(List<String> args) {
    StringBuilder sb = new StringBuilder();
    for (String arg : args) {
      if (sb.length() > 0) {
        sb.append(' ');
      }
      if (arg.matches("[A-Za-z0-9_./=:,+@%-]+")) {
        sb.append(arg);
      } else {
        sb.append('\'').append(arg.replace("'", "'\\''")).append('\'');
      }
    }
    return sb.toString();
  }
}
