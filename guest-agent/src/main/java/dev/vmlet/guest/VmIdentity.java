package dev.vmlet.guest;

import java.io.IOException;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * The identity the host gives this VM at every start of its QEMU, through QEMU's fw_cfg entry
 * {@code opt/dev.vmlet/identity} (root only): {@code key=value} lines, padded to a fixed size
 * because the guest kernel learns an entry's size once, at boot.
 *
 * <p>The kernel command line and the agent's memory are frozen in a template's saved state, so a
 * VM resumed from a template still carries the template's instance id. fw_cfg is read live: the
 * agent reads this entry before every Hello, and an instance id that differs from the one it says
 * Hello with means it now runs in a new VM (a clone). It then takes the new identity: hostname, the
 * MAC of the network interface, fresh randomness for the kernel's pool, and (at the Welcome) the
 * host's clock.
 *
 * <pre>
 * instance_id=UUID
 * hostname=NAME
 * mac=52:54:00:xx:xx:xx
 * seed=64 hex digits (32 random bytes)
 * </pre>
 */
final class VmIdentity {
  private static final Logger LOG = Logger.getLogger(VmIdentity.class.getName());
  static final Path FW_CFG = Path.of("/sys/firmware/qemu_fw_cfg/by_name/opt/dev.vmlet/identity/raw");

  /** One identity as the host wrote it. */
  record Values(String instanceId, String hostname, String mac, byte[] seed) {}

  private final Path file;

  VmIdentity(Path file) {
    this.file = file;
  }

  /** The identity in the file; empty when there is none (a VM started before identities, a test). */
  Optional<Values> read() {
    try {
      return parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Parses the file's text; empty when it has no instance id. Unknown keys are skipped. */
  static Optional<Values> parse(String text) {
    String id = "";
    String host = "";
    String mac = "";
    byte[] seed = new byte[0];
    for (String line : text.split("\n")) {
      int eq = line.indexOf('=');
      if (eq < 0) {
        continue;
      }
      String v = line.substring(eq + 1).strip();
      switch (line.substring(0, eq).strip()) {
        case "instance_id" -> id = v;
        case "hostname" -> host = v;
        case "mac" -> mac = v.matches("[0-9a-f]{2}(:[0-9a-f]{2}){5}") ? v : "";
        case "seed" -> seed = v.matches("([0-9a-f]{2})+") ? HexFormat.of().parseHex(v) : new byte[0];
        default -> { }
      }
    }
    return id.isEmpty() ? Optional.empty() : Optional.of(new Values(id, host, mac, seed));
  }

  /**
   * Takes {@code next} after a resume in a new VM, before its Hello: the hostname and the random
   * seed, file writes only. The clock comes with the Welcome, so it and the MAC are set then
   * ({@link #setClockAndMac}). Each step is tried on its own, so one the guest lacks does not keep
   * the others from being done.
   */
  static void adopt(Values next) {
    if (!next.hostname().isEmpty()) {
      try {
        Files.writeString(Path.of("/proc/sys/kernel/hostname"), next.hostname());
      } catch (IOException e) {
        LOG.warning("cannot set the hostname to " + next.hostname() + ": " + e.getMessage());
      }
    }
    if (next.seed().length > 0) {
      // Mixed into the pool (not credited): the clones of one template must not draw the same numbers.
      try (OutputStream out = Files.newOutputStream(Path.of("/dev/urandom"))) {
        out.write(next.seed());
      } catch (IOException e) {
        LOG.warning("cannot add the new random seed: " + e.getMessage());
      }
    }
  }

  /**
   * Sets the guest's clock to the host's (Unix ms; 0: leaves it), then gives {@code interfaces}
   * (those that had the template's MAC) the MAC {@code mac}: through libc ({@link NativeIdentity},
   * a few ms) where the agent's native set-up was done before the template was saved, else, and
   * for a step whose call fails, with {@code date} and {@code ip}: a process each, 0.05-0.8 s each
   * under TCG (the first a resumed guest starts the dearest).
   *
   * @return how each step was done, for the agent's log line ("clock by libc, MAC of eth0 by ip")
   */
  static String setClockAndMac(long unixMs, List<String> interfaces, String mac) {
    return setClockAndMac(unixMs, interfaces, mac, NativeIdentity.ready() ? LIBC : null, VmIdentity::run,
        isBusybox(Path.of("/bin/date")));
  }

  /** The calls that set the clock and a MAC without a process. */
  interface Calls {
    void setClock(long unixMs) throws IOException;

    void setMac(String dev, String mac) throws IOException;
  }

  static final Calls LIBC = new Calls() {
    @Override
    public void setClock(long unixMs) throws IOException {
      NativeIdentity.setClock(unixMs);
    }

    @Override
    public void setMac(String dev, String mac) throws IOException {
      NativeIdentity.setMac(dev, mac);
    }
  };

  /**
   * As {@link #setClockAndMac(long, List, String)} with {@code calls} (null: none) and {@code
   * processes} (runs a command; true when it exited 0): each step through {@code calls} first,
   * through its process when that fails.
   */
  static String setClockAndMac(long unixMs, List<String> interfaces, String mac, Calls calls,
      java.util.function.Predicate<List<String>> processes, boolean busyboxDate) {
    List<String> done = new ArrayList<>();
    List<List<String>> commands = commands(unixMs, interfaces, mac, busyboxDate);
    for (List<String> command : commands) {
      boolean clock = command.get(0).equals("date");
      String what = clock ? "clock" : "MAC of " + command.get(4);
      long t0 = System.nanoTime();
      if (calls != null) {
        try {
          if (clock) {
            calls.setClock(unixMs);
          } else {
            calls.setMac(command.get(4), mac);
          }
          done.add(what + " by libc in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
          continue;
        } catch (IOException | RuntimeException e) {
          LOG.warning("cannot set the " + what + " through libc (" + e.getMessage() + "); running " + command.get(0));
        }
      }
      boolean ok = processes.test(command);
      done.add(what + " by " + command.get(0) + (ok ? "" : " (failed)") + " in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    }
    return done.isEmpty() ? "nothing to set" : String.join(", ", done);
  }

  /** The clock's {@code date} and each interface's {@code ip link set}, checked: an unknown clock or a bad MAC gives none. */
  static List<List<String>> commands(long unixMs, List<String> interfaces, String mac, boolean busyboxDate) {
    List<List<String>> out = new ArrayList<>();
    if (unixMs > 0) {
      out.add(List.of("date", "-u", "-s", dateArgument(unixMs, busyboxDate)));
    }
    if (mac.matches("[0-9a-f]{2}(:[0-9a-f]{2}){5}")) {
      for (String dev : interfaces) {
        out.add(List.of("ip", "link", "set", "dev", dev, "address", mac));
      }
    }
    return out;
  }

  /**
   * {@code date -s}'s argument for {@code unixMs} (&gt; 0): whole seconds for busybox's {@code date}
   * (it refuses a fraction). Not String.format: its first use in a clone loads the JDK's locale data,
   * 1.2 s of a Debian clone's first exec under TCG (DebianTemplateIT, docs/benchmarks.md).
   */
  static String dateArgument(long unixMs, boolean busyboxDate) {
    if (busyboxDate) {
      return "@" + Math.round(unixMs / 1000.0);
    }
    String millis = Long.toString(unixMs % 1000);
    return "@" + unixMs / 1000 + "." + "000".substring(millis.length()) + millis;
  }

  /** Whether {@code tool} is busybox's applet (a link to the busybox binary). */
  static boolean isBusybox(Path tool) {
    try {
      return tool.toRealPath().getFileName().toString().startsWith("busybox");
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * What a clone runs to take its identity, run so that it changes nothing: the hostname it has
   * written again, 32 zero bytes mixed into the random pool (mixed, not credited: they take nothing
   * from it), an interface list read, the clock and MAC with nothing to set, and the empty datagram
   * to the gateway's discard port (the clone's {@link #announce}, which otherwise loads the JDK's
   * datagram classes in the clone while its first exec runs). In a template's source (the agent's
   * native set-up) this loads and links that code in the memory the template saves, instead of in
   * each clone, where under TCG every first use is slow (docs/benchmarks.md).
   */
  static void rehearse() {
    GuestFacts.firstLine(Path.of("/proc/sys/kernel/hostname")).ifPresent(h -> adopt(new Values("", h, "", new byte[32])));
    interfacesWith("00:00:00:00:00:00");
    setClockAndMac(0, List.of(), "");
    announce(ROUTES);
  }

  /** The interfaces whose MAC is {@code mac} now; none for "". */
  static List<String> interfacesWith(String mac) {
    if (mac.isEmpty()) {
      return List.of();
    }
    try (var dirs = Files.list(Path.of("/sys/class/net"))) {
      return dirs.filter(d -> GuestFacts.firstLine(d.resolve("address")).orElse("").equalsIgnoreCase(mac))
          .map(d -> d.getFileName().toString()).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  /**
   * Rewrites {@code file} (a cloud image's /etc/vmlet/instance-id, from the template's cloud-init)
   * with the clone's instance id, when there is such a file; replaced whole, never half-written.
   */
  static void replaceInstanceId(Path file, String instanceId) {
    if (!Files.isRegularFile(file)) {
      return;
    }
    Path tmp = file.resolveSibling("." + file.getFileName() + ".new");
    try {
      Files.writeString(tmp, instanceId + "\n");
      Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      LOG.warning("cannot write the new instance id into " + file + ": " + e.getMessage());
    }
  }

  static final Path ROUTES = Path.of("/proc/net/route");

  /**
   * Sends one empty UDP datagram to the default gateway's discard port. A clone's new QEMU delivers
   * nothing to the guest's NIC (not even user-mode networking's ARP for a port forward's connection)
   * until the guest has sent a frame; a clone that only listens (sshd behind a forward) would stay
   * unreachable. A guest without a default route is left alone.
   */
  static void announce(Path routes) {
    try {
      Optional<InetAddress> gateway = defaultGateway(Files.readAllLines(routes));
      if (gateway.isPresent()) {
        try (DatagramSocket s = new DatagramSocket()) {
          s.send(new DatagramPacket(new byte[0], 0, gateway.get(), 9));
        }
      }
    } catch (IOException e) {
      LOG.warning("cannot send a first frame to the gateway: " + e.getMessage());
    }
  }

  /** The default route's gateway in /proc/net/route's lines (addresses in the kernel's byte order, hex). */
  static Optional<InetAddress> defaultGateway(List<String> lines) {
    for (String line : lines) {
      String[] f = line.trim().split("\\s+");
      if (f.length > 2 && f[1].equals("00000000") && f[2].matches("[0-9A-Fa-f]{8}") && !f[2].equals("00000000")) {
        int g = Integer.parseUnsignedInt(f[2], 16);
        byte[] ip = {(byte) g, (byte) (g >> 8), (byte) (g >> 16), (byte) (g >> 24)};
        try {
          return Optional.of(InetAddress.getByAddress(ip));
        } catch (java.net.UnknownHostException e) {
          return Optional.empty(); // four bytes are always an address
        }
      }
    }
    return Optional.empty();
  }

  /** Runs {@code argv} (output discarded, 10 s at most); true when it exits 0. */
  static boolean run(List<String> argv) {
    return run(argv, 10);
  }

  /** Runs {@code argv} (output discarded, {@code seconds} at most); true when it exits 0. */
  static boolean run(List<String> argv, int seconds) {
    try {
      Process p = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        LOG.warning(String.join(" ", argv) + ": no answer in " + seconds + " s");
        return false;
      }
      if (p.exitValue() != 0) {
        LOG.warning(String.join(" ", argv) + ": exit " + p.exitValue());
      }
      return p.exitValue() == 0;
    } catch (IOException e) {
      LOG.warning(String.join(" ", argv) + ": " + e.getMessage());
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
