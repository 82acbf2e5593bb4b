package dev.vmlet.guest;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;

/**
 * A resumed clone's clock and MAC set through libc (JNA), with no process: {@code clock_settime}
 * and the {@code SIOCSIFHWADDR} ioctl, the calls {@code date -s} and {@code ip link set address}
 * end in. Under TCG the first process a resumed clone starts costs 0.2-0.8 s (docs/benchmarks.md),
 * these calls a few ms, but only when JNA and these bindings are already in the guest's memory:
 * loading JNA takes seconds. So {@link #load} runs in the agent's native set-up (after its first
 * exec, {@link ExecRunner.SpawnLoad}), and makes each call once, harmlessly (reads), so that a
 * template saved after it holds every binding made; the daemon waits for that before a save.
 *
 * <pre>
 * struct ifreq (40 bytes, x86_64):  ifr_name[16] (NUL-terminated) | sa_family (u16) | sa_data[14] | 8 bytes unused
 * struct timespec (16 bytes):       tv_sec (long) | tv_nsec (long)
 * </pre>
 */
final class NativeIdentity {
  private static final int CLOCK_REALTIME = 0;
  private static final int AF_INET = 2;
  private static final int SOCK_DGRAM = 2;
  private static final int SOCK_CLOEXEC = 02000000;
  private static final long SIOCGIFHWADDR = 0x8927;
  private static final long SIOCSIFHWADDR = 0x8924;
  static final int ARPHRD_ETHER = 1;
  static final int IFREQ_BYTES = 40;
  static final int IFNAMSIZ = 16;

  /** The libc functions used here. */
  interface LibC extends Library {
    int clock_settime(int clock, Pointer timespec);

    int clock_gettime(int clock, Pointer timespec);

    int socket(int domain, int type, int protocol);

    int ioctl(int fd, long request, Pointer arg);

    int close(int fd);
  }

  private static volatile LibC libc;

  private NativeIdentity() {}

  /**
   * Binds the calls and makes each once (the clock read, the loopback's hardware address read), so
   * that a later call runs no JNA set-up. False, with the reason logged by the caller, where it cannot.
   */
  static boolean load() {
    try {
      LibC c = Native.load("c", LibC.class);
      try (Memory ts = new Memory(16)) {
        if (c.clock_gettime(CLOCK_REALTIME, ts) != 0) {
          throw new IOException("clock_gettime failed (errno " + Native.getLastError() + ")");
        }
      }
      hardwareAddress(c, "lo");
      libc = c;
      return true;
    } catch (IOException | UnsatisfiedLinkError | RuntimeException e) {
      java.util.logging.Logger.getLogger(NativeIdentity.class.getName())
          .info("clock and MAC: no libc calls here (" + e.getMessage() + "); a clone sets them with date and ip");
      return false;
    }
  }

  /** Whether {@link #load} succeeded: the calls below can be made. */
  static boolean ready() {
    return libc != null;
  }

  /** Sets the realtime clock to {@code unixMs}. */
  static void setClock(long unixMs) throws IOException {
    try (Memory ts = new Memory(16)) {
      ts.setLong(0, Math.floorDiv(unixMs, 1000));
      ts.setLong(8, Math.floorMod(unixMs, 1000) * 1_000_000L);
      if (require().clock_settime(CLOCK_REALTIME, ts) != 0) {
        throw new IOException("clock_settime failed (errno " + Native.getLastError() + ")");
      }
    }
  }

  /** Gives interface {@code dev} the Ethernet address {@code mac} ({@code xx:xx:xx:xx:xx:xx}). */
  static void setMac(String dev, String mac) throws IOException {
    byte[] req = ifreq(dev, mac);
    LibC c = require();
    int fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw new IOException("socket failed (errno " + Native.getLastError() + ")");
    }
    try (Memory m = new Memory(IFREQ_BYTES)) {
      m.write(0, req, 0, req.length);
      if (c.ioctl(fd, SIOCSIFHWADDR, m) != 0) {
        throw new IOException("SIOCSIFHWADDR on " + dev + " failed (errno " + Native.getLastError() + ")");
      }
    } finally {
      c.close(fd);
    }
  }

  /** The hardware address family of {@code dev} (SIOCGIFHWADDR): 1 for Ethernet, 772 for the loopback. */
  static int hardwareFamily(String dev) throws IOException {
    return hardwareAddress(require(), dev);
  }

  private static int hardwareAddress(LibC c, String dev) throws IOException {
    int fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw new IOException("socket failed (errno " + Native.getLastError() + ")");
    }
    try (Memory m = new Memory(IFREQ_BYTES)) {
      m.clear();
      byte[] name = interfaceName(dev);
      m.write(0, name, 0, name.length);
      if (c.ioctl(fd, SIOCGIFHWADDR, m) != 0) {
        throw new IOException("SIOCGIFHWADDR on " + dev + " failed (errno " + Native.getLastError() + ")");
      }
      return m.getShort(IFNAMSIZ) & 0xffff;
    } finally {
      c.close(fd);
    }
  }

  private static LibC require() throws IOException {
    LibC c = libc;
    if (c == null) {
      throw new IOException("libc's calls are not set up in this agent");
    }
    return c;
  }

  /** The ifreq that SIOCSIFHWADDR takes: the name, then an Ethernet sockaddr holding {@code mac}. */
  static byte[] ifreq(String dev, String mac) {
    if (!mac.matches("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")) {
      throw new IllegalArgumentException("not an Ethernet address: '" + mac + "'");
    }
    byte[] out = new byte[IFREQ_BYTES];
    byte[] name = interfaceName(dev);
    System.arraycopy(name, 0, out, 0, name.length);
    out[IFNAMSIZ] = (byte) ARPHRD_ETHER; // sa_family, little-endian u16
    out[IFNAMSIZ + 1] = 0;
    byte[] addr = HexFormat.ofDelimiter(":").parseHex(mac);
    System.arraycopy(addr, 0, out, IFNAMSIZ + 2, addr.length);
    return out;
  }

  /** {@code dev} as ifr_name: at most 15 bytes and a NUL; no '/' or blank (the kernel would refuse it anyway). */
  static byte[] interfaceName(String dev) {
    byte[] b = dev.getBytes(StandardCharsets.UTF_8);
    if (b.length == 0 || b.length >= IFNAMSIZ || dev.contains("/") || dev.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException("not an interface name: '" + dev + "'");
    }
    return java.util.Arrays.copyOf(b, b.length + 1);
  }
}
