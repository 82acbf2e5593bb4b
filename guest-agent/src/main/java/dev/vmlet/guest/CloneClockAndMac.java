package dev.vmlet.guest;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.logging.Logger;

/**
 * A resumed clone's clock and MAC, set through libc (JNA: {@code clock_settime}, and the
 * {@code SIOCSIFHWADDR} ioctl that {@code ip link set address} also ends in), without a program.
 * Under TCG the first program a resumed guest starts costs 0.2-0.8 s (the new QEMU translates the
 * kernel's fork and exec, the loader and the program from nothing); these calls cost a few
 * milliseconds once {@link #prepare} ran before the template was saved. Where libc cannot be
 * reached the caller falls back to {@code date} and {@code ip}.
 */
final class CloneClockAndMac {
  private static final Logger LOG = Logger.getLogger(CloneClockAndMac.class.getName());
  private static final int CLOCK_REALTIME = 0;
  private static final int AF_INET = 2;
  private static final int SOCK_DGRAM = 2;
  private static final long SIOCSIFHWADDR = 0x8924;
  private static final int ARPHRD_ETHER = 1;
  /** struct ifreq: the name (IFNAMSIZ bytes), then a union whose hardware address is a struct sockaddr. */
  static final int IFREQ_BYTES = 40;
  private static final int IFNAMSIZ = 16;

  interface LibC extends Library {
    int clock_gettime(int clock, long[] timespec);

    int clock_settime(int clock, long[] timespec);

    int socket(int domain, int type, int protocol);

    int ioctl(int fd, NativeLong request, byte[] ifreq);

    int close(int fd);
  }

  /** Set by {@link #prepare} once every call was made: a clone never waits for JNA's set-up. */
  private static volatile LibC libc;

  private CloneClockAndMac() {}

  /** libc, or an error saying it is not there (yet): the caller then uses date and ip. */
  private static LibC libc() {
    LibC c = libc;
    if (c == null) {
      throw new IllegalStateException("libc is not loaded through JNA (yet: a template saved before the agent loaded it)");
    }
    return c;
  }

  /**
   * Loads libc through JNA and makes each call once in a way that changes nothing (an unknown clock,
   * a descriptor that is not open), so that a template saved afterwards holds JNA's set-up of every
   * call done: under TCG that set-up, interpreted in a resumed clone, cost it 0.5-3 s.
   */
  static void prepare() {
    long t0 = System.nanoTime();
    try {
      LibC c = Native.load("c", LibC.class);
      c.clock_gettime(CLOCK_REALTIME, new long[2]);
      c.clock_settime(-1, new long[2]); // EINVAL
      c.ioctl(-1, new NativeLong(SIOCSIFHWADDR), new byte[IFREQ_BYTES]); // EBADF
      c.close(c.socket(AF_INET, SOCK_DGRAM, 0));
      Native.getLastError();
      libc = c;
      LOG.info("libc loaded for a clone's clock and MAC in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      LOG.info("no libc through JNA (a clone's clock and MAC will be set with date and ip): " + e.getMessage());
    }
  }

  /**
   * Sets the guest's clock to {@code unixMs}.
   *
   * @return null when set, else why not
   */
  static String setClock(long unixMs) {
    try {
      if (libc().clock_settime(CLOCK_REALTIME, timespec(unixMs)) != 0) {
        return "clock_settime failed (errno " + Native.getLastError() + ")";
      }
      return null;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return "no libc through JNA: " + e.getMessage();
    }
  }

  /**
   * Gives interface {@code dev} the MAC {@code mac}.
   *
   * @return null when set, else why not
   */
  static String setMac(String dev, String mac) {
    byte[] req;
    try {
      req = ifreq(dev, mac);
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
    try {
      LibC c = libc();
      int fd = c.socket(AF_INET, SOCK_DGRAM, 0);
      if (fd < 0) {
        return "socket failed (errno " + Native.getLastError() + ")";
      }
      try {
        return c.ioctl(fd, new NativeLong(SIOCSIFHWADDR), req) == 0 ? null : "SIOCSIFHWADDR on " + dev + " failed (errno "
            + Native.getLastError() + ")";
      } finally {
        c.close(fd);
      }
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return "no libc through JNA: " + e.getMessage();
    }
  }

  /** struct timespec {long tv_sec; long tv_nsec;} of {@code unixMs}. */
  static long[] timespec(long unixMs) {
    return new long[] {Math.floorDiv(unixMs, 1000), Math.floorMod(unixMs, 1000) * 1_000_000L};
  }

  /** The struct ifreq of SIOCSIFHWADDR: the interface's name, then an Ethernet sockaddr holding the MAC. */
  static byte[] ifreq(String dev, String mac) {
    byte[] name = dev.getBytes(StandardCharsets.US_ASCII);
    if (name.length == 0 || name.length >= IFNAMSIZ) {
      throw new IllegalArgumentException("interface name '" + dev + "' is not 1 to " + (IFNAMSIZ - 1) + " characters");
    }
    if (!mac.matches("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")) {
      throw new IllegalArgumentException("'" + mac + "' is not a MAC address");
    }
    byte[] req = new byte[IFREQ_BYTES];
    System.arraycopy(name, 0, req, 0, name.length);
    ByteBuffer.wrap(req, IFNAMSIZ, 2).order(ByteOrder.nativeOrder()).putShort((short) ARPHRD_ETHER); // sa_family
    byte[] addr = HexFormat.ofDelimiter(":").parseHex(mac);
    System.arraycopy(addr, 0, req, IFNAMSIZ + 2, addr.length);
    return req;
  }
}
