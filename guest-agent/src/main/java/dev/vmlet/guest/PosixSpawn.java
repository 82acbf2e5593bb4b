package dev.vmlet.guest;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import com.sun.jna.StringArray;
import com.sun.jna.ptr.IntByReference;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * Starts a program with glibc's posix_spawn(3) in a session and process group of its own
 * ({@code POSIX_SPAWN_SETSID}): one clone(CLONE_VM|CLONE_VFORK) and one exec of the program, as
 * qemu-guest-agent's fork and exec. Before, the JDK's launcher exec'd a setsid first (busybox's, or
 * the guest's), which then exec'd the program: one exec more per exec, the largest part of a short
 * exec's round trip under TCG (docs/benchmarks.md, issue 15). The JDK cannot make a session itself.
 *
 * <p>The child gets pipes on 0, 1 and 2 (stdout on both 1 and 2 when merged), every other
 * descriptor closed ({@code posix_spawn_file_actions_addclosefrom_np}, glibc 2.34), the working
 * directory ({@code addchdir_np}, glibc 2.29), no blocked signal and every signal at its default.
 * {@link #available} is false where libc lacks any of these (musl, older glibc, no JNA): the
 * caller then uses the JDK's launcher and a setsid.
 *
 * <p>The program's end is waited for on the caller's thread (waitid with WNOWAIT: the child stays
 * a zombie), and only then reaped under the same lock a kill takes, so a kill never reaches a
 * process group whose id was given to another program after the reap. Not {@link
 * ProcessHandle#onExit}: its future completes through {@code handleAsync}, which with one or two
 * CPUs (the common pool's parallelism below 2) starts a new thread per call. The wait is not
 * interruptible: a kill ends it.
 */
final class PosixSpawn implements StartedProgram {
  private static final int O_CLOEXEC = 02000000;
  private static final int EINTR = 4;
  private static final int WNOHANG = 1;
  private static final int P_PID = 1;
  private static final int WEXITED = 4;
  private static final int WNOWAIT = 0x01000000;
  private static final short POSIX_SPAWN_SETSIGDEF = 0x04;
  private static final short POSIX_SPAWN_SETSIGMASK = 0x08;
  private static final short POSIX_SPAWN_SETSID = 0x80;
  // glibc's posix_spawnattr_t is 336 bytes, posix_spawn_file_actions_t 80, sigset_t 128 (x86_64).
  private static final int OPAQUE = 512;
  private static final short POLLIN = 0x1;

  /** The libc functions used here, through JNA. */
  interface LibC extends Library {
    int pipe2(int[] fds, int flags);

    int posix_spawn_file_actions_init(Pointer actions);

    int posix_spawn_file_actions_destroy(Pointer actions);

    int posix_spawn_file_actions_adddup2(Pointer actions, int fd, int newFd);

    int posix_spawn_file_actions_addchdir_np(Pointer actions, Pointer dir);

    int posix_spawn_file_actions_addclosefrom_np(Pointer actions, int from);

    int posix_spawnattr_init(Pointer attr);

    int posix_spawnattr_destroy(Pointer attr);

    int posix_spawnattr_setflags(Pointer attr, short flags);

    int posix_spawnattr_setsigmask(Pointer attr, Pointer set);

    int posix_spawnattr_setsigdefault(Pointer attr, Pointer set);

    int sigemptyset(Pointer set);

    int sigfillset(Pointer set);

    int posix_spawn(IntByReference pid, Pointer path, Pointer actions, Pointer attr, Pointer argv, Pointer envp);

    int waitid(int idType, int id, Pointer info, int options);

    int poll(Pointer fds, long count, int timeoutMs);

    int waitpid(int pid, int[] status, int options);

    int kill(int pid, int sig);

    NativeLong read(int fd, byte[] buf, NativeLong count);

    NativeLong write(int fd, byte[] buf, NativeLong count);

    int close(int fd);
  }

  private static final LibC LIBC = load();
  /** How the JDK's launcher encodes argv, the environment and paths (the guest's locale). */
  private static final String ENCODING = System.getProperty("sun.jnu.encoding", "UTF-8");

  private static LibC load() {
    if (!System.getProperty("os.name", "").equals("Linux") || "jdk".equals(System.getProperty("vmlet.agent.spawn"))) {
      return null;
    }
    Logger log = Logger.getLogger(PosixSpawn.class.getName());
    try {
      NativeLibrary c = NativeLibrary.getInstance("c");
      for (String f : List.of("posix_spawn", "posix_spawn_file_actions_addclosefrom_np", "posix_spawn_file_actions_addchdir_np",
          "pipe2")) {
        c.getFunction(f); // throws when libc lacks it
      }
      LibC libc = Native.load("c", LibC.class);
      log.info("exec: programs start with posix_spawn in a session of their own");
      return libc;
    } catch (UnsatisfiedLinkError | RuntimeException e) {
      log.info("exec: no posix_spawn with closefrom and chdir here (" + e.getMessage() + "); programs start through setsid");
      return null;
    }
  }

  /** Whether programs start here; false means: use the JDK's launcher. */
  static boolean available() {
    return LIBC != null;
  }

  private final int pid;
  private volatile boolean ended;
  private final FdOutputStream stdin;
  private final FdInputStream stdout;
  private final FdInputStream stderr;
  private boolean reaped;
  private int status;

  private PosixSpawn(int pid, int stdin, int stdout, int stderr) {
    this.pid = pid;
    this.stdin = new FdOutputStream(stdin);
    this.stdout = new FdInputStream(stdout);
    this.stderr = stderr < 0 ? null : new FdInputStream(stderr);
  }

  /**
   * Starts {@code program} (an absolute path) with {@code argv} (argv[0] included) and exactly
   * {@code env}, in {@code dir} when not null.
   *
   * @throws IOException when the pipes or the start fail (the message names the errno)
   */
  static PosixSpawn start(String program, List<String> argv, Map<String, String> env, String dir, boolean mergeOutput)
      throws IOException {
    List<Integer> parentEnds = new ArrayList<>();
    List<Integer> childEnds = new ArrayList<>();
    Memory actions = new Memory(OPAQUE);
    Memory attr = new Memory(OPAQUE);
    Memory signals = new Memory(OPAQUE);
    boolean started = false;
    try {
      int[] in = pipe(parentEnds, childEnds, false);
      int[] out = pipe(parentEnds, childEnds, true);
      int[] err = mergeOutput ? null : pipe(parentEnds, childEnds, true);
      check(LIBC.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
      check(LIBC.posix_spawnattr_init(attr), "posix_spawnattr_init");
      try {
        check(LIBC.posix_spawn_file_actions_adddup2(actions, in[0], 0), "adddup2");
        check(LIBC.posix_spawn_file_actions_adddup2(actions, out[1], 1), "adddup2");
        check(LIBC.posix_spawn_file_actions_adddup2(actions, err == null ? out[1] : err[1], 2), "adddup2");
        if (dir != null) {
          check(LIBC.posix_spawn_file_actions_addchdir_np(actions, cString(dir)), "addchdir_np");
        }
        check(LIBC.posix_spawn_file_actions_addclosefrom_np(actions, 3), "addclosefrom_np");
        LIBC.sigemptyset(signals);
        check(LIBC.posix_spawnattr_setsigmask(attr, signals), "setsigmask");
        LIBC.sigfillset(signals);
        check(LIBC.posix_spawnattr_setsigdefault(attr, signals), "setsigdefault");
        check(LIBC.posix_spawnattr_setflags(attr, (short) (POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
            "setflags");
        String[] envp = env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toArray(String[]::new);
        IntByReference pid = new IntByReference();
        int rc = LIBC.posix_spawn(pid, cString(program), actions, attr, new StringArray(argv.toArray(String[]::new), ENCODING),
            new StringArray(envp, ENCODING));
        if (rc != 0) {
          throw new IOException("posix_spawn failed (errno " + rc + ")");
        }
        started = true;
        return new PosixSpawn(pid.getValue(), in[1], out[0], err == null ? -1 : err[0]);
      } finally {
        LIBC.posix_spawn_file_actions_destroy(actions);
        LIBC.posix_spawnattr_destroy(attr);
      }
    } finally {
      childEnds.forEach(LIBC::close);
      if (!started) {
        parentEnds.forEach(LIBC::close);
      }
    }
  }

  /** {@code s} NUL-terminated in the encoding the JDK's launcher would use. */
  private static Memory cString(String s) {
    Memory m = new Memory(s.getBytes(java.nio.charset.Charset.forName(ENCODING)).length + 1L);
    m.setString(0, s, ENCODING);
    return m;
  }

  /** A pipe, close-on-exec at both ends; {@code toParent}: the child writes, the parent reads. */
  private static int[] pipe(List<Integer> parentEnds, List<Integer> childEnds, boolean toParent) throws IOException {
    int[] fds = new int[2];
    if (LIBC.pipe2(fds, O_CLOEXEC) != 0) {
      throw new IOException("pipe2 failed (errno " + Native.getLastError() + ")");
    }
    parentEnds.add(toParent ? fds[0] : fds[1]);
    childEnds.add(toParent ? fds[1] : fds[0]);
    return fds;
  }

  private static void check(int rc, String what) throws IOException {
    if (rc != 0) {
      throw new IOException(what + " failed (errno " + rc + ")");
    }
  }

  @Override
  public OutputStream stdin() {
    return stdin;
  }

  @Override
  public InputStream stdout() {
    return stdout;
  }

  @Override
  public InputStream stderr() {
    return stderr;
  }

  /**
   * Waits until the program's stdout (bit 1) or stderr (bit 2) has bytes or its end to read, for
   * those of the two still open; the bits of the ready ones.
   */
  int awaitOutput(boolean out, boolean err) throws IOException {
    try (Memory fds = new Memory(16)) {
      int n = 0;
      if (out) {
        fds.setInt(0, stdout.fd);
        fds.setShort(4, POLLIN);
        fds.setShort(6, (short) 0);
        n++;
      }
      if (err) {
        fds.setInt(8L * n, stderr.fd);
        fds.setShort(8L * n + 4, POLLIN);
        fds.setShort(8L * n + 6, (short) 0);
        n++;
      }
      while (LIBC.poll(fds, n, -1) < 0) {
        int errno = Native.getLastError();
        if (errno != EINTR) {
          throw new IOException("poll of the program's output failed (errno " + errno + ")");
        }
      }
      int ready = 0;
      for (int i = 0; i < n; i++) {
        if (fds.getShort(8L * i + 6) != 0) { // POLLIN, POLLHUP or POLLERR: a read will not block
          ready |= fds.getInt(8L * i) == stdout.fd ? 1 : 2;
        }
      }
      return ready;
    }
  }

  @Override
  public int waitFor() {
    try (Memory info = new Memory(OPAQUE)) {
      while (LIBC.waitid(P_PID, pid, info, WEXITED | WNOWAIT) != 0) {
        int errno = Native.getLastError();
        if (errno != EINTR) {
          throw new IllegalStateException("waitid for program " + pid + " failed (errno " + errno + ")");
        }
      }
    }
    ended = true;
    return reap();
  }

  private synchronized int reap() {
    if (!reaped) {
      int[] st = new int[1];
      int r;
      while ((r = LIBC.waitpid(pid, st, WNOHANG)) < 0 && Native.getLastError() == EINTR) {
        // again
      }
      reaped = true;
      status = st[0];
    }
    int signal = status & 0x7f;
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal; // as the JDK's Process.exitValue
  }

  @Override
  public boolean isAlive() {
    return !ended;
  }

  @Override
  public synchronized void kill() {
    if (reaped) {
      return; // its pid, and so its group's id, may be another program's now
    }
    LIBC.kill(-pid, 9); // the whole group at once (pid is the group's id): a fork cannot escape it
    ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(ProcessHandle::destroyForcibly)); // those that left the group
    LIBC.kill(pid, 9);
  }

  /** The parent's end of a pipe from the program, read through libc. */
  private static final class FdInputStream extends Transport.BulkInputStream {
    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();

    FdInputStream(int fd) {
      this.fd = fd;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      byte[] buf = off == 0 ? b : new byte[len];
      long n;
      while ((n = LIBC.read(fd, buf, new NativeLong(len)).longValue()) < 0) {
        int errno = Native.getLastError();
        if (errno != EINTR) {
          throw new IOException("read from the program failed (errno " + errno + ")");
        }
      }
      if (n > 0 && buf != b) {
        System.arraycopy(buf, 0, b, off, (int) n);
      }
      return n == 0 ? -1 : (int) n;
    }

    @Override
    public void close() {
      if (closed.compareAndSet(false, true)) {
        LIBC.close(fd);
      }
    }
  }

  /** The parent's end of the program's stdin, written through libc. */
  private static final class FdOutputStream extends OutputStream {
    private final int fd;
    private final AtomicBoolean closed = new AtomicBoolean();

    FdOutputStream(int fd) {
      this.fd = fd;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (closed.get()) {
        throw new IOException("the program's stdin is closed");
      }
      while (len > 0) {
        byte[] rest = off == 0 ? b : java.util.Arrays.copyOfRange(b, off, off + len);
        long n = LIBC.write(fd, rest, new NativeLong(len)).longValue();
        if (n < 0) {
          int errno = Native.getLastError();
          if (errno == EINTR) {
            continue;
          }
          throw new IOException("write to the program's stdin failed (errno " + errno + ")");
        }
        off += (int) n;
        len -= (int) n;
      }
    }

    @Override
    public void close() {
      if (closed.compareAndSet(false, true)) {
        LIBC.close(fd);
      }
    }
  }
}
