package dev.vmlet.qemu;

import dev.vmlet.spec.GuestSettings;
import dev.vmlet.spec.PortForward;
import dev.vmlet.spec.Share;
import dev.vmlet.spec.VmConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import dev.vmlet.spec.PciAddress;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builds the exact {@code qemu-system-x86_64} argument list for a VM, behind {@code setpriv} when
 * QEMU runs as another user ({@link QemuUser#prefix}). Pure: the same inputs always give the same
 * list, and nothing is read from or written to the machine.
 */
public final class QemuCommandBuilder {
  /** The fw_cfg entry with the VM's agent token; the guest reads /sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/token/raw. */
  public static final String TOKEN_FW_CFG = "opt/dev.vmlet/token";
  /** The fw_cfg entry with the VM's identity (VmFiles#identity); the agent re-reads it before every Hello. */
  public static final String IDENTITY_FW_CFG = "opt/dev.vmlet/identity";

  /** The virtio-serial port name the guest agent opens. */
  public static final String AGENT_PORT = "dev.vmlet.agent.0";
  /** The port qemu-guest-agent opens; its host end is {@link VmFiles#qgaSocket}. */
  public static final String QGA_PORT = "org.qemu.guest_agent.0";

  private QemuCommandBuilder() {}

  public static List<String> build(QemuLaunch l) {
    VmConfig config = l.config();
    String accel = l.accel();
    if (!accel.equals("kvm") && !accel.equals("tcg")) {
      throw new IllegalArgumentException("accel must be resolved to kvm or tcg, got " + accel);
    }
    boolean microvm = config.platform().microvm();
    // microvm has no PCI bus: its virtio devices sit on virtio-mmio transports ("-device").
    String virtio = microvm ? "-device" : "-pci";
    List<String> a = new ArrayList<>();
    QemuUser user = l.confinement().user();
    if (user != null) {
      // VFIO pins all guest memory; the limit is raised before the drop, like libvirt's RAM + 1 GiB.
      a.addAll(user.prefix(l.vfio().isEmpty() ? 0 : (config.memoryMib() + 1024) * 1024 * 1024));
    }
    a.add(l.qemuBinary());
    // debug-threads: vCPU threads are named "CPU n/KVM" (or TCG), which operators and tests can see.
    a.addAll(List.of("-name", config.name() + ",process=vmlet-" + config.name() + ",debug-threads=on"));
    // microvm: ACPI on so the guest sees the power button (graceful stop) and its virtio-mmio devices;
    // PIT and PIC on because under TCG the kernel otherwise finds no timer to calibrate against and hangs.
    boolean windows = config.platform().windows();
    // smm=on for Windows: Secure Boot's variables may only be written from SMM.
    a.addAll(List.of("-machine", microvm ? "microvm,acpi=on,rtc=on,pit=on,pic=on" : windows ? "q35,smm=on" : "q35"));
    a.addAll(List.of("-accel", accel));
    a.addAll(List.of("-cpu", windows ? WindowsProfile.cpu(accel) : cpuModel(accel)));
    a.addAll(List.of("-smp", Integer.toString(config.vcpus())));
    a.addAll(List.of("-m", config.memoryMib() + "M"));
    if (config.tuning().hugepages()) {
      if (l.hugepagesMount() == null) {
        throw new IllegalArgumentException("hugepages requested but no hugetlbfs mount given");
      }
      // share=on with shares: virtiofsd maps guest memory to answer the guest's requests.
      a.addAll(List.of("-object", "memory-backend-file,id=mem0,size=" + config.memoryMib() + "M,mem-path="
          + opt(l.hugepagesMount()) + ",share=" + (config.shares().stream().allMatch(Share::ninep) ? "off" : "on") + ",prealloc=on"));
      a.addAll(List.of("-numa", "node,memdev=mem0"));
    } else if (config.shares().stream().anyMatch(sh -> !sh.ninep())) {
      // vhost-user-fs needs guest memory that virtiofsd can map: memfd, shared.
      a.addAll(List.of("-object", "memory-backend-memfd,id=mem0,size=" + config.memoryMib() + "M,share=on"));
      a.addAll(List.of("-numa", "node,memdev=mem0"));
    }
    if (config.tuning().balloon()) {
      a.addAll(List.of("-device", "virtio-balloon" + virtio + ",id=balloon0"));
    }
    a.addAll(List.of("-nodefaults", "-no-user-config", "-display", "none"));
    if (!l.confinement().sandbox().isEmpty()) {
      a.addAll(List.of("-sandbox", l.confinement().sandbox()));
    }
    if (config.platform().firmware().equals("uefi")) {
      if (l.firmware() == null) {
        throw new IllegalArgumentException("UEFI requested but no firmware given");
      }
      if (l.firmware().secureBoot()) {
        a.addAll(List.of("-global", "driver=cfi.pflash01,property=secure,value=on"));
      }
      a.addAll(List.of("-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + opt(l.firmware().code())));
      a.addAll(List.of("-drive", "if=pflash,format=qcow2,unit=1,file=" + opt(l.files().uefiVars())));
    }
    if (l.boot() != null) {
      a.addAll(List.of("-kernel", l.boot().kernel().toString()));
      if (l.boot().initrd() != null) {
        a.addAll(List.of("-initrd", l.boot().initrd().toString()));
      }
      String cmdline = kernelCommandLine(config, l.instanceId());
      if (microvm && accel.equals("tcg") && l.hostTscKhz() > 0) {
        // See HostTsc: without this a microvm guest under TCG can hang calibrating its clock.
        // tsc=reliable: the host's constant TSC is; a lagging jiffies watchdog must not demote it.
        cmdline += " tsc_early_khz=" + l.hostTscKhz() + " tsc=reliable";
      }
      a.addAll(List.of("-append", cmdline));
    } else if (l.disks().isEmpty()) {
      throw new IllegalArgumentException("no kernel and no disk to boot");
    }
    // The daemon holds the console socket: it keeps the bounded log and relays OpenConsole.
    a.addAll(List.of("-chardev", "socket,id=console,path=" + opt(l.files().consoleSocket()) + ",server=on,wait=off"));
    a.addAll(List.of("-serial", "chardev:console"));
    if (config.platform().agentOnSerial()) {
      // The second ISA serial port, the guest's ttyS1: the agent's link without virtio drivers.
      a.addAll(List.of("-chardev", "socket,id=agentserial,path=" + opt(l.files().agentSerialSocket()) + ",server=on,wait=off"));
      a.addAll(List.of("-serial", "chardev:agentserial"));
    }
    if (windows) {
      a.addAll(WindowsProfile.clock());
    }
    if (config.platform().tpm()) {
      // swtpm listens on this socket (started before QEMU); tpm-tis, the guest's /dev/tpm0 or Windows' TPM 2.0.
      a.addAll(List.of("-chardev", "socket,id=chrtpm,path=" + opt(l.files().tpmSocket())));
      a.addAll(List.of("-tpmdev", "emulator,id=tpm0,chardev=chrtpm"));
      a.addAll(List.of("-device", "tpm-tis,tpmdev=tpm0"));
    }
    for (int i = 0; i < l.disks().size(); i++) {
      AttachedDisk d = l.disks().get(i);
      a.addAll(List.of("-drive", "file=" + opt(d.file()) + ",format=qcow2,if=none,id=disk-" + d.name() + ",discard=unmap"));
      String boot = i == 0 && l.boot() == null ? ",bootindex=0" : "";
      a.addAll(List.of("-device", "virtio-blk" + virtio + ",drive=disk-" + d.name() + ",serial=" + d.name() + boot));
    }
    for (int i = 0; i < l.readOnlyDisks().size(); i++) {
      a.addAll(List.of("-drive", "file=" + opt(l.readOnlyDisks().get(i)) + ",format=raw,if=none,id=ro" + i + ",readonly=on"));
      a.addAll(List.of("-device", "virtio-blk" + virtio + ",drive=ro" + i));
    }
    if (!config.platform().driversIso().isEmpty()) {
      // A CD-ROM on the AHCI controller q35 has built in, which Windows drives without extra drivers.
      a.addAll(List.of("-drive", "file=" + opt(Path.of(config.platform().driversIso())) + ",media=cdrom,if=none,id=drivers,readonly=on"));
      a.addAll(List.of("-device", "ide-cd,drive=drivers,bus=ide.1"));
    }
    a.addAll(List.of("-netdev", netdev(config, l.forwards())));
    a.addAll(List.of("-device", "virtio-net" + virtio + ",netdev=net0,mac=" + mac(l.instanceId())));
    a.addAll(List.of("-device", "virtio-serial" + virtio + ",id=vser0"));
    a.addAll(List.of("-chardev", "socket,id=agent,path=" + opt(l.files().agentSocket()) + ",server=on,wait=off"));
    a.addAll(List.of("-device", "virtserialport,bus=vser0.0,chardev=agent,name=" + AGENT_PORT));
    // qemu-guest-agent's channel too, for tools that expect it (and side-by-side comparisons).
    a.addAll(List.of("-chardev", "socket,id=qga,path=" + opt(l.files().qgaSocket()) + ",server=on,wait=off"));
    a.addAll(List.of("-device", "virtserialport,bus=vser0.0,chardev=qga,name=" + QGA_PORT));
    // Entropy from QEMU's own source (no host file to open): a guest CPU without RDRAND (TCG's
    // default model) otherwise waits for the kernel's jitter entropy at its first random read,
    // which held the micro image's agent up by 7 s under TCG.
    a.addAll(List.of("-device", "virtio-rng" + virtio + ",id=rng0"));
    for (int i = 0; i < config.shares().size(); i++) {
      Share share = config.shares().get(i);
      if (share.ninep()) {
        // QEMU's own 9p server; mapped-xattr keeps the guest's owners and modes in xattrs, so the
        // files on the host stay QEMU's user's and a guest's root cannot make set-uid files.
        a.addAll(List.of("-virtfs", "local,path=" + opt(Path.of(share.hostPath())) + ",mount_tag=" + Share.tag(i)
            + ",security_model=mapped-xattr,id=fs" + i + (share.readOnly() ? ",readonly=on" : "")));
        continue;
      }
      a.addAll(List.of("-chardev", "socket,id=fs" + i + ",path=" + opt(l.files().shareSocket(i))));
      // queue-size 1024: virtiofsd's default request queue; the guest mounts by this tag.
      a.addAll(List.of("-device", "vhost-user-fs-pci,queue-size=1024,chardev=fs" + i + ",tag=" + Share.tag(i)));
    }
    a.addAll(vfio(l.vfio()));
    // Credentials and the proxy: one OEM string each, read from a 0600 file, never on the command line.
    int oemStrings = GuestSettings.oemStrings(config).size();
    for (int i = 0; i < oemStrings; i++) {
      a.addAll(List.of("-smbios", "type=11,path=" + opt(l.files().oemString(i))));
    }
    // The agent's token: only root in the guest can read fw_cfg entries.
    a.addAll(List.of("-fw_cfg", "name=" + TOKEN_FW_CFG + ",file=" + opt(l.files().agentToken())));
    a.addAll(List.of("-fw_cfg", "name=" + IDENTITY_FW_CFG + ",file=" + opt(l.files().identity())));
    a.addAll(List.of("-qmp", "unix:" + opt(l.files().qmpSocket()) + ",server=on,wait=off"));
    a.addAll(List.of("-pidfile", l.files().pidFile().toString()));
    return a;
  }

  /**
   * Passed-through functions, one PCIe root port per host slot: a card's functions (the GPU and
   * its HDMI audio) keep their function numbers on one guest slot, function 0 multifunction.
   */
  static List<String> vfio(List<PciAddress> functions) {
    Map<String, List<String>> slots = new LinkedHashMap<>();
    for (var f : functions) {
      String v = f.value();
      slots.computeIfAbsent(v.substring(0, v.lastIndexOf('.')), k -> new ArrayList<>()).add(v);
    }
    List<String> a = new ArrayList<>();
    int port = 0;
    for (List<String> slot : slots.values()) {
      String bus = "vfio" + port;
      a.addAll(List.of("-device", "pcie-root-port,id=" + bus + ",chassis=" + (port + 1)));
      for (String f : slot) {
        String fn = f.substring(f.lastIndexOf('.') + 1);
        String multi = slot.size() > 1 && fn.equals("0") ? ",multifunction=on" : "";
        a.addAll(List.of("-device", "vfio-pci,host=" + f + ",bus=" + bus + ",addr=0x0." + fn + multi));
      }
      port++;
    }
    return a;
  }

  private static String netdev(VmConfig config, List<PortForward> forwards) {
    if (config.network().isTap()) {
      // script=no: the operator created the TAP and put it on a bridge; QEMU only opens it.
      return "tap,id=net0,ifname=" + config.network().tap() + ",script=no,downscript=no";
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
    return netdev.toString();
  }

  /** A stable, locally administered MAC for a VM, from its instance id (QEMU's 52:54:00 prefix). */
  public static String mac(String instanceId) {
    int h = instanceId.hashCode();
    return String.format("52:54:00:%02x:%02x:%02x", (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
  }

  /** QEMU splits option values at ','; a literal comma in a path is written twice. */
  static String opt(Path path) {
    return path.toString().replace(",", ",,");
  }

  /**
   * The micro images' kernel command line (before vmlet's parameters). quiet: the kernel's few
   * hundred lines through the emulated UART cost 0.4 s of CPU under TCG; warnings and errors still
   * reach the console. cryptomgr.notests: the crypto API's boot-time self-tests of every algorithm it
   * registers (the cloud kernel's SP800-108 KDF test alone took 2.7 s under TCG) halved the kernel's
   * part of a micro boot; the kernel allows it outside FIPS mode.
   */
  public static final String MICRO_COMMAND_LINE = "console=ttyS0 panic=-1 quiet cryptomgr.notests=1";

  /** The micro image's own parameters, or the user's command line; then vmlet's parameters. */
  static String kernelCommandLine(VmConfig config, String instanceId) {
    String base = switch (config.image()) {
      case "kernel" -> config.directBoot().cmdline();
      // The Debian image's root file system fills its whole disk, which is always the first.
      case "debian" -> "root=/dev/vda rw console=ttyS0";
      default -> MICRO_COMMAND_LINE;
    };
    String vmlet = "vmlet.instance_id=" + instanceId + " vmlet.hostname=" + config.name()
        + (config.platform().agentOnSerial() ? " vmlet.agent_port=serial" : "") + shareParameters(config);
    return base.isBlank() ? vmlet : base.strip() + " " + vmlet;
  }

  /**
   * One {@code vmlet.share=TAG:GUEST_PATH[:ro][:9p]} per share, which the micro image's init mounts
   * (Share keeps guest paths free of spaces and colons, so each is one parameter).
   */
  static String shareParameters(VmConfig config) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < config.shares().size(); i++) {
      Share s = config.shares().get(i);
      sb.append(" vmlet.share=").append(Share.tag(i)).append(':').append(s.guestPath()).append(s.readOnly() ? ":ro" : "")
          .append(s.ninep() ? ":9p" : "");
    }
    return sb.toString();
  }

  /**
   * The CPU model a VM gets: the host's under KVM; under TCG {@value #TCG_CPU}: {@code max}, every
   * feature TCG can emulate (QEMU 7.2: AVX2, BMI2, SSE4.2, PCLMUL, AES, not SHA-NI), where QEMU's
   * default qemu64 leaves a guest's JVM without its SHA-256 and CRC32C intrinsics (about 2x on the
   * agent's transfers), but without ERMS and FSRM. With those the guest's kernel and C library
   * copy and clear memory with {@code rep movsb} / {@code rep stosb}, which TCG runs one byte per
   * iteration: without them they use {@code rep movsq} or vector loops, and in a Debian guest
   * reading a file from the page cache took 0.24-0.42 s per 256 MiB against 1.2-1.4 s, and
   * /dev/zero to /dev/null 0.55 s per GiB against 2.3 s (docs/benchmarks.md).
   */
  public static String cpuModel(String accel) {
    return accel.equals("kvm") ? "host" : TCG_CPU;
  }

  /** The CPU model under TCG (see {@link #cpuModel}). */
  public static final String TCG_CPU = "max,-erms,-fsrm";

  /**
   * The CPU model named in a command line made by {@link #toShellLine}: the word after
   * {@code -cpu}, or QEMU's default {@code qemu64} when there is none (a VM started by a vmlet that
   * passed no {@code -cpu} under TCG); empty for an empty line (never started).
   */
  public static String cpuModelOf(String shellLine) {
    if (shellLine.isBlank()) {
      return "";
    }
    List<String> words = List.of(shellLine.split(" "));
    int at = words.indexOf("-cpu");
    return at >= 0 && at + 1 < words.size() ? words.get(at + 1).split(",")[0] : "qemu64";
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
