package dev.vmlet.qemu;

import dev.vmlet.proc.ProcessRequest;
import dev.vmlet.proc.ProcessResult;
import dev.vmlet.proc.ProcessRunner;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.logging.Logger;
import dev.vmlet.fs.FileTrees;
import java.util.ArrayList;

/**
 * Decides between KVM and TCG. {@code /dev/kvm} existing is not enough: on hosts without working
 * nested virtualisation a KVM guest hangs at boot. So the probe boots a 512-byte boot sector under
 * KVM that writes to QEMU's isa-debug-exit port; only if QEMU exits with the expected code within
 * the bound does KVM count as working.
 */
public final class AccelProbe {
  private static final Logger LOG = Logger.getLogger(AccelProbe.class.getName());
  /** The byte the boot sector writes; QEMU then exits with {@code (value << 1) | 1}. */
  private static final int EXIT_VALUE = 0x21;

  static final int EXPECTED_EXIT = (EXIT_VALUE << 1) | 1;
  /** The probe QEMU prints a line or two; more is not read into memory. */
  private static final int OUTPUT_LIMIT = 64 * 1024;

  /** Why a container has no /dev/kvm, and the ways out: said by the probe inside one. */
  static final String NO_DEVICE_IN_CONTAINER = "A Docker Swarm service cannot be given devices (moby/swarmkit#1244:"
      + " a devices: entry is dropped in swarm mode, and a bind mount of /dev/kvm is refused by the device cgroup)."
      + " Ways out: docker run --device /dev/kvm (or compose) on a single host; a KVM device plugin on Kubernetes"
      + " (devices.kubevirt.io/kvm, deploy/k8s-daemonset.yaml)";

  private final String qemuBinary;
  private final Path kvmDevice;
  private final Duration timeout;
  private final ProcessRunner runner;
  private volatile Accel cached;

  public AccelProbe(String qemuBinary, Path kvmDevice, Duration timeout) {
    this(qemuBinary, kvmDevice, timeout, ProcessRunner.system());
  }

  public AccelProbe(String qemuBinary, Path kvmDevice, Duration timeout, ProcessRunner runner) {
    this.qemuBinary = qemuBinary;
    this.kvmDevice = kvmDevice;
    this.timeout = timeout;
    this.runner = runner;
  }

  /** The KVM device this probe opens. */
  public Path kvmDevice() {
    return kvmDevice;
  }

  /** Resolves a requested accelerator ("auto", "kvm", "tcg") to the one to use. */
  public Accel resolve(String requested) {
    if (requested.equals("tcg")) {
      return new Accel("tcg", "TCG requested");
    }
    Accel probed = cached;
    if (probed == null) {
      // Probed once per daemon: a KVM that hangs costs the full bound, which every start would pay.
      probed = probe();
      cached = probed;
    }
    if (requested.equals("kvm") && !probed.name().equals("kvm")) {
      throw new IllegalStateException("KVM requested but not usable: " + probed.reason());
    }
    return probed;
  }

  /** Whether this process runs in a container (Docker's or Podman's marker file, or container= in PID 1's environment). */
  static boolean inContainer(Path root) {
    if (Files.exists(root.resolve(".dockerenv")) || Files.exists(root.resolve("run/.containerenv"))) {
      return true;
    }
    try {
      return Files.readString(root.resolve("proc/1/cgroup")).matches("(?s).*(/docker/|/kubepods|/containerd/|docker-).*");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static boolean groupMayUse(Path device) {
    try {
      var p = Files.getPosixFilePermissions(device);
      return p.contains(java.nio.file.attribute.PosixFilePermission.GROUP_READ)
          && p.contains(java.nio.file.attribute.PosixFilePermission.GROUP_WRITE);
    } catch (IOException | UnsupportedOperationException e) {
      return true; // unknown: say only what is surely missing
    }
  }

  /** Probes KVM; returns KVM if it works, else TCG with the reason. */
  public Accel probe() {
    boolean container = inContainer(Path.of("/"));
    if (!Files.exists(kvmDevice)) {
      return new Accel("tcg", container ? kvmDevice + " does not exist in this container. " + NO_DEVICE_IN_CONTAINER + "; using TCG"
          : kvmDevice + " does not exist (no KVM on this host); using TCG");
    }
    if (!Files.isReadable(kvmDevice) || !Files.isWritable(kvmDevice)) {
      return new Accel("tcg", kvmDevice + " is not read/writable by this user (" + (!groupMayUse(kvmDevice)
          ? "the device is root's alone; on the host give it to group kvm with mode 0660 (udev: KERNEL==\"kvm\", GROUP=\"kvm\","
              + " MODE=\"0660\"), then " : "")
          + (container ? "give the container the device's group: --group-add $(stat -c %g /dev/kvm) on the host"
              : "add this user to the device's group (kvm)") + "); using TCG");
    }
    long t0 = System.nanoTime();
    String outcome = bootSector("kvm");
    long ms = (System.nanoTime() - t0) / 1_000_000;
    if (outcome == null) {
      return new Accel("kvm", "KVM probe guest ran in " + ms + " ms");
    }
    LOG.info("KVM probe failed: " + outcome);
    return new Accel("tcg", "KVM probe failed (" + outcome + "); using TCG");
  }

  /**
   * Boots the probe sector with the given accelerator.
   *
   * @return null when it ran to the exit port, else what went wrong
   */
  public String bootSector(String accel) {
    Path dir = null;
    try {
      dir = Files.createTempDirectory("vmlet-probe");
      Path disk = dir.resolve("probe.img");
      Files.write(disk, probeSector());
      // The CPU model real launches use: a host where KVM runs this boot sector but
      // rejects '-cpu host' (seen: "failed to set MSR 0x10a") must fall back to TCG here, not
      // fail every start.
      List<String> argv = new ArrayList<>(List.of(
          qemuBinary, "-machine", "pc", "-accel", accel, "-nodefaults", "-no-user-config",
          "-display", "none", "-m", "16", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
          "-drive", "file=" + disk + ",format=raw,if=ide,index=0", "-boot", "c"));
      if (accel.equals("kvm")) {
        argv.addAll(List.of("-cpu", "host"));
      }
      ProcessResult r = runner.run(ProcessRequest.of(timeout, argv).withStderrMerged().withOutputLimit(OUTPUT_LIMIT));
      if (r.timedOut()) {
        return "guest did not run within " + timeout.toMillis() + " ms";
      }
      if (r.exitCode() != EXPECTED_EXIT) {
        String log = r.stdout().strip();
        // The error, not a warning printed before it.
        String line = log.lines().filter(l -> l.contains("error")).findFirst().orElse(log.lines().findFirst().orElse(""));
        return "qemu exited with " + r.exitCode() + (line.isEmpty() ? "" : ": " + line);
      }
      return null;
    } catch (InterruptedIOException e) {
      return "interrupted";
    } catch (IOException e) {
      return "cannot run " + qemuBinary + ": " + e.getMessage();
    } finally {
      if (dir != null) {
        FileTrees.deleteTree(dir);
      }
    }
  }

  /** mov al,0x21; out 0xf4,al; cli; hlt; jmp $-1 — then the boot signature. */
  static byte[] probeSector() {
    byte[] s = new byte[512];
    byte[] code = {(byte) 0xB0, EXIT_VALUE, (byte) 0xE6, (byte) 0xF4, (byte) 0xFA, (byte) 0xF4, (byte) 0xEB, (byte) 0xFD};
    System.arraycopy(code, 0, s, 0, code.length);
    s[510] = 0x55;
    s[511] = (byte) 0xAA;
    return s;
  }
}
