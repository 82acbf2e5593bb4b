package dev.vmlet.guest;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * A Linux pseudo-terminal pair, through libc with JNA: the program gets the slave ({@link #slavePath},
 * opened by the child as its stdin, stdout and stderr, and made its controlling terminal by
 * {@code setsid -c}); the agent reads and writes the master.
 */
final class Pty implements Closeable {
  private static final int O_RDWR = 2;
  private static final int O_NOCTTY = 0400;
  private static final long TIOCSWINSZ = 0x5414;

  interface LibC extends Library {
    int posix_openpt(int flags);

    int grantpt(int fd);

    int unlockpt(int fd);

    String ptsname(int fd);

    int ioctl(int fd, NativeLong request, short[] winsize);

    NativeLong read(int fd, byte[] buf, NativeLong count);

    NativeLong write(int fd, byte[] buf, NativeLong count);

    int close(int fd);

    int kill(int pid, int sig);
  }

  private static volatile LibC libc;
  private final int master;
  private final String slavePath;
  private volatile boolean closed;

  private Pty(int master, String slavePath) {
    this.master = master;
    this.slavePath = slavePath;
  }

  private static LibC libc() {
    if (libc == null) {
      libc = Native.load("c", LibC.class);
    }
    return libc;
  }

  /**
   * Sends SIGKILL to every process in a process group at once (a fork during the kill cannot
   * escape it, unlike killing a tree one process at a time).
   *
   * @return false when it could not be sent (no libc, or the group is gone)
   */
  static boolean killGroup(long pgid) {
    try {
      return libc().kill((int) -pgid, 9) == 0;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      return false;
    }
  }

  /** Opens a pair sized rows x cols. */
  static Pty open(int rows, int cols) throws IOException {
    LibC c;
    try {
      c = libc();
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      throw new IOException("no pseudo-terminals here (libc through JNA: " + e.getMessage() + ")", e);
    }
    int fd = c.posix_openpt(O_RDWR | O_NOCTTY);
    if (fd < 0) {
      throw new IOException("posix_openpt failed (errno " + Native.getLastError() + ")");
    }
    if (c.grantpt(fd) != 0 || c.unlockpt(fd) != 0) {
      c.close(fd);
      throw new IOException("grantpt/unlockpt failed (errno " + Native.getLastError() + ")");
    }
    Pty p = new Pty(fd, c.ptsname(fd));
    p.resize(rows, cols);
    return p;
  }

  String slavePath() {
    return slavePath;
  }

  void resize(int rows, int cols) throws IOException {
    short[] ws = {(short) (rows == 0 ? 24 : rows), (short) (cols == 0 ? 80 : cols), 0, 0};
    if (libc().ioctl(master, new NativeLong(TIOCSWINSZ), ws) != 0) {
      throw new IOException("TIOCSWINSZ failed (errno " + Native.getLastError() + ")");
    }
  }

  /** Reads what the program wrote; -1 once every slave is closed (the program ended). */
  int read(byte[] buf) {
    if (closed) {
      return -1;
    }
    long n = libc().read(master, buf, new NativeLong(buf.length)).longValue();
    return n <= 0 ? -1 : (int) n; // EIO when the last slave closed
  }

  void write(byte[] data) throws IOException {
    int off = 0;
    while (off < data.length) {
      byte[] rest = off == 0 ? data : Arrays.copyOfRange(data, off, data.length);
      long n = libc().write(master, rest, new NativeLong(rest.length)).longValue();
      if (n < 0) {
        throw new IOException("write to the terminal failed (errno " + Native.getLastError() + ")");
      }
      off += (int) n;
    }
  }

  /** The master as a stream of what the program writes; ends once the program has let go of the terminal. */
  InputStream masterIn() {
    return new Transport.BulkInputStream() {
      @Override
      public int read(byte[] b, int off, int len) {
        byte[] buf = off == 0 && len == b.length ? b : new byte[len];
        int n = Pty.this.read(buf);
        if (n > 0 && buf != b) {
          System.arraycopy(buf, 0, b, off, n);
        }
        return n;
      }
    };
  }

  /** The master as a stream to the program's terminal; closing it leaves the terminal open. */
  OutputStream masterOut() {
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        Pty.this.write(new byte[] {(byte) b});
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        Pty.this.write(Arrays.copyOfRange(b, off, off + len));
      }

      @Override
      public void close() {
        // the terminal stays open until the program ends; end of input on a tty is ^D
      }
    };
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      libc().close(master);
    }
  }
}
