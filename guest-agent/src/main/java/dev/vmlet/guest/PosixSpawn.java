package dev.vmlet.guest;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
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
  /** siginfo_t's size on every Linux. */
  private static final int SIGINFO = 128;
  private static final short POLLIN = 0x1;
  private static final int F_SETPIPE_SZ = 1031;
  /**
   * The size asked for the pipes of the program's output (Linux's default is 64 KiB): the agent
   * reads up to {@link ExecPipes#READ} at a time, and a pipe that holds more than one such read lets
   * a program that writes fast go on while the agent sends the read before (docs/benchmarks.md,
   * "exec with 1 MiB of output"). The stream's credit still bounds what the host is sent.
   */
  static final int OUTPUT_PIPE = 256 * 1024;

  /**
   * The libc functions used here, bound with JNA's direct mapping ({@code static native} methods
   * registered once): an exec makes about twenty of these calls, and JNA's interface mapping (a
   * proxy, reflection and an argument conversion per call) cost more per call than the call itself,
   * which under TCG and C1 was milliseconds per exec (docs/benchmarks.md, "hop by hop"). Only
   * primitives, primitive arrays and pointers cross, so no call converts its arguments.
   */
  static final class LibC {
    private LibC() {}

    static native int pipe2(int[] fds, int flags);

    static native int posix_spawn_file_actions_init(Pointer actions);

    static native int posix_spawn_file_actions_destroy(Pointer actions);

    static native int posix_spawn_file_actions_adddup2(Pointer actions, int fd, int newFd);

    static native int posix_spawn_file_actions_addchdir_np(Pointer actions, Pointer dir);

    static native int posix_spawn_file_actions_addclosefrom_np(Pointer actions, int from);

    static native int posix_spawnattr_init(Pointer attr);

    static native int posix_spawnattr_setflags(Pointer attr, short flags);

    static native int posix_spawnattr_setsigmask(Pointer attr, Pointer set);

    static native int posix_spawnattr_setsigdefault(Pointer attr, Pointer set);

    static native int sigemptyset(Pointer set);

    static native int sigfillset(Pointer set);

    static native int posix_spawn(int[] pid, Pointer path, Pointer actions, Pointer attr, Pointer argv, Pointer envp);

    static native int waitid(int idType, int id, byte[] info, int options);

    static native int poll(int[] fds, NativeLong count, int timeoutMs);

    static native int waitpid(int pid, int[] status, int options);

    static native int kill(int pid, int sig);

    static native NativeLong read(int fd, byte[] buf, NativeLong count);

    /** Into native memory: no copy of a Java array in and out around the call (JNA's for byte[]). */
    static native NativeLong read(int fd, Pointer buf, NativeLong count);

    static native int fcntl(int fd, int cmd, int arg);

    static native NativeLong write(int fd, byte[] buf, NativeLong count);

    /** From native memory (a direct buffer's): {@link PortWriter}. */
    static native NativeLong write(int fd, Pointer buf, NativeLong count);

    static native int close(int fd);
  }

  /**
   * The spawn attributes every program gets (its own session, no blocked signal, every signal at
   * its default), made once: posix_spawn only reads them, so concurrent execs share them, and an
   * exec saves the seven calls that would make them again. Set up by {@link #load}.
   */
  private static final Memory ATTR = new Memory(OPAQUE);
  private static final boolean LOADED = load();
  /** How the JDK's launcher encodes argv, the environment and paths (the guest's locale). */
  private static final Charset CHARSET = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
  private static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

  private static boolean load() {
    if (!System.getProperty("os.name", "").equals("Linux") || "jdk".equals(System.getProperty("vmlet.agent.spawn"))) {
      return false;
    }
    Logger log = Logger.getLogger(PosixSpawn.class.getName());
    try {
      NativeLibrary c = NativeLibrary.getInstance("c");
      for (String f : List.of("posix_spawn", "posix_spawn_file_actions_addclosefrom_np", "posix_spawn_file_actions_addchdir_np",
          "pipe2")) {
        c.getFunction(f); // throws when libc lacks it
      }
      Native.register(LibC.class, c);
      try (Memory signals = new Memory(OPAQUE)) {
        check(LibC.posix_spawnattr_init(ATTR), "posix_spawnattr_init");
        LibC.sigemptyset(signals);
        check(LibC.posix_spawnattr_setsigmask(ATTR, signals), "setsigmask");
        LibC.sigfillset(signals);
        check(LibC.posix_spawnattr_setsigdefault(ATTR, signals), "setsigdefault");
        check(LibC.posix_spawnattr_setflags(ATTR, (short) (POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
            "setflags");
      }
      log.info("exec: programs start with posix_spawn in a session of their own");
      return true;
    } catch (UnsatisfiedLinkError | RuntimeException | IOException e) {
      log.info("exec: no posix_spawn with closefrom and chdir here (" + e.getMessage() + "); programs start through setsid");
      return false;
    }
  }

  /** Whether programs start here; false means: use the JDK's launcher. */
  static boolean available() {
    return LOADED;
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
   * The native environment block of the map most recently started with {@code keepEnvironment}:
   * the agent's base environment, which every exec that sets no variable of its own passes as the
   * very same map. The block (a few dozen strings) is then made once, not at every exec: the
   * strings and their copy into native memory took about 3 ms of an exec's 57 in the agent under
   * TCG at load 4-8 (docs/benchmarks.md, issue 15, "exec of true in the micro VM"). A block replaced
   * by another map's is not freed here, since an exec may still be starting with it: JNA's cleaner
   * frees it once no exec holds it.
   */
  private static volatile KeptEnvironment kept;

  private record KeptEnvironment(Map<String, String> env, Memory block) {}

  /**
   * Starts {@code program} (an absolute path) with {@code argv} (argv[0] included) and exactly
   * {@code env}, in {@code dir} when not null.
   *
   * @throws IOException when the pipes or the start fail (the message names the errno)
   */
  static PosixSpawn start(String program, List<String> argv, Map<String, String> env, String dir, boolean mergeOutput)
      throws IOException {
    return start(program, argv, env, false, dir, mergeOutput);
  }

  /**
   * As {@link #start(String, List, Map, String, boolean)}; with {@code keepEnvironment}, {@code env}
   * is a map that does not change and is passed again (the agent's base environment): its native
   * block is made once and kept for the next start with the same map.
   */
  static PosixSpawn start(String program, List<String> argv, Map<String, String> env, boolean keepEnvironment, String dir,
      boolean mergeOutput) throws IOException {
    KeptEnvironment k = kept;
    Memory sharedEnvironment = null;
    if (keepEnvironment) {
      if (k == null || k.env != env) {
        k = new KeptEnvironment(env, cStrings(envp(env)));
        kept = k;
      }
      sharedEnvironment = k.block;
    }
    List<Integer> parentEnds = new ArrayList<>(3);
    List<Integer> childEnds = new ArrayList<>(3);
    boolean started = false;
    // Each string set is one block (pointers, then the strings they point to): JNA's StringArray
    // made one native allocation per string, a few dozen per exec with the environment.
    try (Memory actions = new Memory(OPAQUE); Memory path = cStrings(List.of(program)); Memory args = cStrings(argv);
        Memory ownEnvironment = sharedEnvironment == null ? cStrings(envp(env)) : null;
        Memory workDir = dir == null ? null : cStrings(List.of(dir))) {
      Memory environment = sharedEnvironment == null ? ownEnvironment : sharedEnvironment;
      int[] in = pipe(parentEnds, childEnds, false);
      int[] out = pipe(parentEnds, childEnds, true);
      int[] err = mergeOutput ? null : pipe(parentEnds, childEnds, true);
      check(LibC.posix_spawn_file_actions_init(actions), "posix_spawn_file_actions_init");
      try {
        check(LibC.posix_spawn_file_actions_adddup2(actions, in[0], 0), "adddup2");
        check(LibC.posix_spawn_file_actions_adddup2(actions, out[1], 1), "adddup2");
        check(LibC.posix_spawn_file_actions_adddup2(actions, err == null ? out[1] : err[1], 2), "adddup2");
        if (workDir != null) {
          check(LibC.posix_spawn_file_actions_addchdir_np(actions, workDir.getPointer(0)), "addchdir_np");
        }
        check(LibC.posix_spawn_file_actions_addclosefrom_np(actions, 3), "addclosefrom_np");
        int[] pid = new int[1];
        int rc = LibC.posix_spawn(pid, path.getPointer(0), actions, ATTR, args, environment);
        if (rc != 0) {
          throw new IOException("posix_spawn failed (errno " + rc + ")");
        }
        started = true;
        return new PosixSpawn(pid[0], in[1], out[0], err == null ? -1 : err[0]);
      } finally {
        LibC.posix_spawn_file_actions_destroy(actions);
      }
    } finally {
      childEnds.forEach(LibC::close);
      if (!started) {
        parentEnds.forEach(LibC::close);
      }
    }
  }

  /** The kept environment block's address, 0 when none is kept (tests). */
  static long keptEnvironmentAddress() {
    KeptEnvironment k = kept;
    return k == null ? 0 : Pointer.nativeValue(k.block);
  }

  private static List<String> envp(Map<String, String> env) {
    List<String> envp = new ArrayList<>(env.size());
    for (Map.Entry<String, String> e : env.entrySet()) {
      envp.add(e.getKey() + "=" + e.getValue());
    }
    return envp;
  }

  /**
   * {@code strings} as C wants an argv: a NULL-terminated array of pointers to NUL-terminated
   * strings (in the encoding the JDK's launcher would use), all in one native block, written with
   * one native call: a call per string and per pointer (three per string) cost more under TCG
   * than the bytes they wrote.
   */
  static Memory cStrings(List<String> strings) {
    int n = strings.size();
    byte[][] bytes = new byte[n][];
    int table = (n + 1) * Native.POINTER_SIZE;
    int size = table;
    for (int i = 0; i < n; i++) {
      bytes[i] = strings.get(i).getBytes(CHARSET);
      size = Math.addExact(size, bytes[i].length + 1);
    }
    Memory m = new Memory(size);
    long base = Pointer.nativeValue(m);
    ByteBuffer block = ByteBuffer.allocate(size).order(ByteOrder.nativeOrder());
    int at = table;
    for (int i = 0; i < n; i++) {
      putPointer(block, i * Native.POINTER_SIZE, base + at);
      block.put(at, bytes[i]); // the NUL after it: the buffer's zeros
      at += bytes[i].length + 1;
    }
    putPointer(block, n * Native.POINTER_SIZE, 0); // the terminating NULL
    m.write(0, block.array(), 0, size);
    return m;
  }

  private static void putPointer(ByteBuffer block, int at, long address) {
    if (Native.POINTER_SIZE == 8) {
      block.putLong(at, address);
    } else {
      block.putInt(at, (int) address);
    }
  }

  /** A pipe, close-on-exec at both ends; {@code toParent}: the child writes, the parent reads. */
  private static int[] pipe(List<Integer> parentEnds, List<Integer> childEnds, boolean toParent) throws IOException {
    int[] fds = new int[2];
    if (LibC.pipe2(fds, O_CLOEXEC) != 0) {
      throw new IOException("pipe2 failed (errno " + Native.getLastError() + ")");
    }
    parentEnds.add(toParent ? fds[0] : fds[1]);
    childEnds.add(toParent ? fds[1] : fds[0]);
    if (toParent) {
      // A failure (a user's pipe quota, /proc/sys/fs/pipe-max-size) keeps the default 64 KiB:
      // slower for large output, nothing else.
      LibC.fcntl(fds[0], F_SETPIPE_SZ, OUTPUT_PIPE);
    }
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
   * One read(2) of the program's stdout ({@code stderr} false) or stderr into native memory, up to
   * {@code max} bytes: the bytes read, or -1 at the output's end.
   */
  int readOutput(boolean stderr, Pointer into, int max) throws IOException {
    int fd = stderr ? this.stderr.fd : stdout.fd;
    long n;
    while ((n = LibC.read(fd, into, new NativeLong(max)).longValue()) < 0) {
      int errno = Native.getLastError();
      if (errno != EINTR) {
        throw new IOException("read from the program failed (errno " + errno + ")");
      }
    }
    return n == 0 ? -1 : (int) n;
  }

  /**
   * Waits until the program's stdout (bit 1) or stderr (bit 2) has bytes or its end to read, for
   * those of the two still open; the bits of the ready ones.
   */
  int awaitOutput(boolean out, boolean err) throws IOException {
    // struct pollfd {int fd; short events; short revents;} as two ints each: no native allocation.
    int[] fds = new int[4];
    int n = 0;
    if (out) {
      fds[0] = stdout.fd;
      fds[1] = pollEvents(POLLIN);
      n++;
    }
    if (err) {
      fds[2 * n] = stderr.fd;
      fds[2 * n + 1] = pollEvents(POLLIN);
      n++;
    }
    while (LibC.poll(fds, new NativeLong(n), -1) < 0) {
      int errno = Native.getLastError();
      if (errno != EINTR) {
        throw new IOException("poll of the program's output failed (errno " + errno + ")");
      }
    }
    int ready = 0;
    for (int i = 0; i < n; i++) {
      if (pollRevents(fds[2 * i + 1]) != 0) { // POLLIN, POLLHUP or POLLERR: a read will not block
        ready |= fds[2 * i] == stdout.fd ? 1 : 2;
      }
    }
    return ready;
  }

  /** A pollfd's second int with {@code events} in its {@code events} half. */
  static int pollEvents(short events) {
    return LITTLE_ENDIAN ? events & 0xffff : (events & 0xffff) << 16;
  }

  /** The {@code revents} half of a pollfd's second int. */
  static int pollRevents(int word) {
    return LITTLE_ENDIAN ? word >>> 16 : word & 0xffff;
  }

  @Override
  public int waitFor() {
    byte[] info = new byte[SIGINFO]; // siginfo_t, unread: the status comes from the reap
    while (LibC.waitid(P_PID, pid, info, WEXITED | WNOWAIT) != 0) {
      int errno = Native.getLastError();
      if (errno != EINTR) {
        throw new IllegalStateException("waitid for program " + pid + " failed (errno " + errno + ")");
      }
    }
    ended = true;
    return reap();
  }

  private synchronized int reap() {
    if (!reaped) {
      int[] st = new int[1];
      int r;
      while ((r = LibC.waitpid(pid, st, WNOHANG)) < 0 && Native.getLastError() == EINTR) {
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
    LibC.kill(-pid, 9); // the whole group at once (pid is the group's id): a fork cannot escape it
    ProcessHandle.of(pid).ifPresent(p -> p.descendants().forEach(ProcessHandle::destroyForcibly)); // those that left the group
    LibC.kill(pid, 9);
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
      while ((n = LibC.read(fd, buf, new NativeLong(len)).longValue()) < 0) {
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
        LibC.close(fd);
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
        long n = LibC.write(fd, rest, new NativeLong(len)).longValue();
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
        LibC.close(fd);
      }
    }
  }
}
