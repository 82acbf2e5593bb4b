package dev.vmlet.guest;

import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecInput;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.NativeSetup;
import dev.vmlet.proto.agent.v1.StreamError;
import java.io.File;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntConsumer;
import java.util.logging.Logger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;

/**
 * Runs one ExecStart: output frames as the program produces them, each within the stream's send
 * window (a host that stops reading stops the program at a full pipe, not the agent's memory),
 * then exactly one ExecExit (after both pipes are drained) or a StreamError when the program
 * cannot start. Stdin arrives through {@link #input}; {@link #cancel} kills the program and
 * everything it started. This class starts the program ({@link PosixSpawn} where it can, else the
 * JDK's launcher and a setsid: {@link JdkProgram}) and waits for it; {@link ExecPipes} moves its bytes.
 */
final class ExecRunner implements Runnable {
  private static final Logger LOG = Logger.getLogger(ExecRunner.class.getName());

  private final int stream;
  private final ExecStart start;
  private final FrameSink sink;
  private final GuestPlatform platform;
  private final boolean agentIsRoot;
  private final ExecPipes pipes;
  /** Kills programs past their timeout: one thread for all execs, started at the first timeout. */
  private static final ScheduledExecutorService DEADLINES = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "exec-deadlines");
    t.setDaemon(true);
    return t;
  });

  private volatile StartedProgram program;
  private volatile boolean timedOut;
  private volatile boolean cancelled;
  private volatile Pty pty;
  private volatile HopTrace trace = HopTrace.OFF;

  ExecRunner(int stream, ExecStart start, FrameSink sink, SendWindow window, GuestPlatform platform, boolean agentIsRoot,
      IntConsumer stdinConsumed) {
    this.stream = stream;
    this.start = start;
    this.sink = sink;
    this.platform = platform;
    this.agentIsRoot = agentIsRoot;
    this.pipes = new ExecPipes(stream, sink, window, stdinConsumed, this::kill);
  }

  /** For the warm-up and tests: no flow control, no stdin. */
  ExecRunner(int stream, ExecStart start, FrameSink sink) {
    this(stream, start, sink, new SendWindow(Long.MAX_VALUE / 2), GuestPlatform.current(), false, n -> { });
  }

  /** Where this exec's hops are noted ({@link HopTrace#OFF} unless tracing). */
  void trace(HopTrace t) {
    trace = t;
  }

  /** Bytes for stdin (already counted against the receive window by the caller). */
  void input(ExecInput in) {
    pipes.input(in);
  }

  /** The terminal of a tty exec changed size. */
  void resize(int rows, int cols) {
    Pty p = pty;
    if (p != null) {
      try {
        p.resize(rows, cols);
      } catch (IOException e) {
        LOG.fine("exec " + stream + ": " + e.getMessage());
      }
    }
  }

  /** Kills the program and its descendants; ExecExit follows with cancelled set. */
  void cancel() {
    cancelled = true;
    kill();
  }

  private void kill() {
    StartedProgram p = program;
    if (p != null) {
      p.kill();
    }
  }

  @Override
  public void run() {
    trace.mark("worker");
    try {
      runOrThrow();
    } catch (IOException e) {
      LOG.fine("exec on stream " + stream + ": cannot answer the host: " + e.getMessage());
      kill();
    } catch (InterruptedException e) {
      kill();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * {@code program} as an absolute path, found the way execvp would; null when there is none.
   * With java.io.File, not Path and Files: the same two system calls per candidate (access, stat),
   * without NIO's path parsing and provider calls, which under TCG and C1 made this step about 3x
   * slower (docs/benchmarks.md, "exec of true in the micro VM").
   */
  static Path findProgram(String program, String workingDir, String searchPath) {
    if (program.contains("/")) {
      File f = program.startsWith("/") ? new File(program) : new File(workingDir.isEmpty() ? "." : workingDir, program);
      return isProgram(f) ? f.getAbsoluteFile().toPath() : null;
    }
    for (String dir : searchPath.split(":")) {
      File f = new File(dir.isEmpty() ? "." : dir, program);
      if (isProgram(f)) {
        return f.getAbsoluteFile().toPath();
      }
    }
    return null;
  }

  private static boolean isProgram(File f) {
    return f.canExecute() && !f.isDirectory();
  }

  private String searchPath() {
    return start.getEnvMap().getOrDefault("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
  }

  private List<String> argv() {
    List<String> argv = start.getShell().isEmpty() ? start.getArgvList() : platform.shellArgv(start.getShell());
    if (!start.getUser().isEmpty()) {
      if (!agentIsRoot) {
        throw new IllegalStateException("cannot run as user '" + start.getUser() + "': the agent does not run as root");
      }
      argv = platform.asUser(start.getUser(), argv);
    }
    return argv;
  }

  private void runOrThrow() throws IOException, InterruptedException {
    if (start.getArgvCount() == 0 && start.getShell().isEmpty()) {
      fail(StreamError.Code.INVALID_ARGUMENT, "give argv or a shell command line");
      return;
    }
    if (start.getArgvCount() > 0 && !start.getShell().isEmpty()) {
      fail(StreamError.Code.INVALID_ARGUMENT, "give argv or a shell command line, not both");
      return;
    }
    List<String> argv;
    try {
      argv = argv();
    } catch (IllegalStateException | UnsupportedOperationException e) {
      fail(StreamError.Code.FAILED_PRECONDITION, e.getMessage());
      return;
    }
    // An exec with no variables of its own passes the base map itself, unchanged and unmodifiable:
    // PosixSpawn then reuses its native block instead of building it again.
    Map<String, String> env = BaseEnvironment.of(SmbiosSettings.current());
    if (!start.getEnvMap().isEmpty()) {
      env = new HashMap<>(env);
      env.putAll(start.getEnvMap());
    }
    File dir = null;
    if (!start.getWorkingDir().isEmpty()) {
      dir = new File(start.getWorkingDir());
      if (!dir.isDirectory()) {
        fail(StreamError.Code.NOT_FOUND, "working directory " + dir + " does not exist in the guest");
        return;
      }
    }
    StartedProgram p;
    if (start.getTty()) {
      if (platform.isWindows()) {
        fail(StreamError.Code.FAILED_PRECONDITION, "tty execs need a Linux guest");
        return;
      }
      try {
        pty = Pty.open(start.getRows(), start.getCols());
      } catch (IOException e) {
        fail(StreamError.Code.FAILED_PRECONDITION, e.getMessage());
        return;
      }
      env = new HashMap<>(env);
      env.putIfAbsent("TERM", "xterm-256color");
      // setsid -c: a new session whose controlling terminal is stdin, the pty's slave.
      List<String> withSession = new ArrayList<>(List.of("setsid", "-c"));
      withSession.addAll(argv);
      File slave = new File(pty.slavePath());
      p = startJdk(new ProcessBuilder(withSession).redirectInput(slave).redirectOutput(slave).redirectError(slave), env, dir, true);
    } else if (!platform.isWindows()) {
      Path program = findProgram(argv.get(0), start.getWorkingDir(), searchPath());
      if (program == null) {
        fail(StreamError.Code.NOT_FOUND, "cannot run '" + argv.get(0) + "': "
            + (argv.get(0).contains("/") ? "no such executable file" : "no such program in PATH (" + searchPath() + ")"));
        return;
      }
      trace.mark("found");
      p = SpawnLoad.done() ? startSpawned(program, argv, env, dir) : startWithSetsid(program, argv, env, dir);
    } else {
      p = startJdk(new ProcessBuilder(argv).redirectErrorStream(start.getMergeOutput()), env, dir, false);
    }
    if (p == null) {
      closePty();
      return; // the StreamError went out
    }
    program = p;
    trace.mark("spawned");
    if (cancelled) {
      kill();
    }
    Future<?> in = start.getStdin() ? pipes.feed(pty != null ? pty.masterOut() : p.stdin(), p::isAlive) : null;
    if (in == null && pty == null) {
      p.stdin().close();
    }
    ScheduledFuture<?> deadline = start.getTimeoutSeconds() <= 0 ? null : DEADLINES.schedule(() -> {
      timedOut = true;
      kill();
    }, start.getTimeoutSeconds(), TimeUnit.SECONDS);
    Future<?> out = null;
    Future<?> err = null;
    if (!(p instanceof PosixSpawn)) {
      out = pipes.pump(pty != null ? pty.masterIn() : p.stdout(), ExecOutput.Fd.STDOUT);
      err = start.getMergeOutput() || pty != null ? null : pipes.pump(p.stderr(), ExecOutput.Fd.STDERR);
    }
    int code;
    try {
      if (p instanceof PosixSpawn spawned) {
        pipes.pumpHere(spawned, trace); // until both outputs end: the program ended, or left them to what it started
        trace.mark("output-end");
      }
      code = p.waitFor();
      trace.mark("reaped");
    } finally {
      if (deadline != null) {
        deadline.cancel(false);
      }
    }
    if (in != null) {
      pipes.endInput();
    }
    if (pty != null) {
      awaitPipe(out, 2000); // a background program may still hold the terminal: do not wait for it
      closePty();
    } else if (out != null) {
      awaitPipe(out, Long.MAX_VALUE);
    }
    if (err != null) {
      awaitPipe(err, Long.MAX_VALUE);
    }
    boolean killed = timedOut || cancelled;
    sink.send(Frame.newBuilder().setStreamId(stream).setExecExit(ExecExit.newBuilder()
        .setExitCode(killed ? -1 : code).setTimedOut(timedOut).setCancelled(cancelled && !timedOut)
        .setSignal(killed ? 9 : 0)).build());
    trace.mark("exit-sent");
    trace.end();
    if (pty == null && !platform.isWindows()) {
      SpawnLoad.begin();
    }
  }

  /**
   * The agent's native set-up: posix_spawn ({@link PosixSpawn}) and the clone's clock and MAC calls
   * ({@link NativeIdentity}), through JNA and libc, made on a thread of its own after the first exec
   * ended, never on an exec's path: under TCG it took seconds (about 7 s at load 8), which a VM's
   * first exec would otherwise wait for. Until it is done, programs start through the JDK's launcher
   * and a setsid. The daemon waits for it before it saves a template (GuestInfoReply.native_setup),
   * so that the template holds it done.
   */
  static final class SpawnLoad {
    private static final java.util.concurrent.atomic.AtomicBoolean BEGUN = new java.util.concurrent.atomic.AtomicBoolean();
    private static volatile boolean done;
    private static volatile NativeSetup state = NativeSetup.NATIVE_SETUP_PENDING;

    private SpawnLoad() {}

    /** Whether programs start with posix_spawn now. */
    static boolean done() {
      return done;
    }

    /** Where the set-up is: pending until it finished, then ready or unavailable. */
    static NativeSetup state() {
      return state;
    }

    /** Opens when the set-up has ended, whichever thread began it and whoever waits. */
    private static final java.util.concurrent.CountDownLatch ENDED = new java.util.concurrent.CountDownLatch(1);

    static void begin() {
      if (BEGUN.compareAndSet(false, true)) {
        Thread t = new Thread(() -> {
          try {
            done = PosixSpawn.available();
            boolean identity = NativeIdentity.load();
            rehearse();
            state = done || identity ? NativeSetup.NATIVE_SETUP_READY : NativeSetup.NATIVE_SETUP_UNAVAILABLE;
            LOG.info("native set-up " + (done ? "done, programs start with posix_spawn" : "unavailable") + "; " + jnaLibrary());
          } finally {
            if (state == NativeSetup.NATIVE_SETUP_PENDING) { // it threw: the daemon must not wait for it
              state = NativeSetup.NATIVE_SETUP_UNAVAILABLE;
            }
            ENDED.countDown();
          }
        }, "posix-spawn-load");
        t.setDaemon(true);
        t.start();
      }
    }

    /**
     * Begins the set-up unless it has begun, and waits until it is done: the agent's warm-up
     * (AgentMain), whose classes and bindings go into the class archive, makes it once, as a
     * guest's agent does, instead of a second time beside the thread its exec began.
     */
    static void await() throws InterruptedException {
      begin();
      ENDED.await();
    }

    /**
     * Where JNA's native library was loaded from, for the log: the runtime's own {@code
     * lib/libjnidispatch.so} (build-agent-runtime.sh names it), or a temporary file JNA unpacked
     * from its jar at this start (a guest's own Java without those flags; slower under TCG).
     */
    private static String jnaLibrary() {
      String path = System.getProperty("jnidispatch.path");
      return path == null ? "JNA's library not loaded" : "JNA's library " + path;
    }
  }

  /**
   * Runs once, changing nothing, what a clone of a template saved from now on runs first: an exec of
   * {@code true} through posix_spawn (the first exec before the set-up went the JDK's way, so
   * libc's posix_spawn calls were not yet bound through JNA, nor this path's classes loaded), and the
   * clone's taking of its identity with nothing changed ({@link VmIdentity#rehearse}). Its first exec then finds them all in the template's
   * memory instead of binding and loading them: under TCG that was about 0.8 s of a clone's first exec
   * (docs/benchmarks.md). Output discarded; a failure only means the clone does that work itself.
   */
  private static void rehearse() {
    try {
      if (SpawnLoad.done()) {
        new ExecRunner(0, ExecStart.newBuilder().addArgv("true").build(), f -> { }).run();
      }
      if (Files.exists(VmIdentity.FW_CFG)) { // a VM of vmlet's, which can be saved as a template (not a test's host)
        VmIdentity.rehearse();
      }
    } catch (RuntimeException e) {
      LOG.fine("exec and clone paths not rehearsed: " + e);
    }
  }

  /**
   * The environment every program starts from: the agent's own and the VM's credentials and proxy
   * (SMBIOS). Made once per {@link SmbiosSettings} (read once at the agent's start), not per exec.
   */
  record BaseEnvironment(SmbiosSettings from, Map<String, String> env) {
    private static volatile BaseEnvironment last;

    static Map<String, String> of(SmbiosSettings settings) {
      BaseEnvironment b = last;
      if (b == null || b.from != settings) {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.putAll(settings.environment());
        b = new BaseEnvironment(settings, Map.copyOf(env));
        last = b;
      }
      return b.env;
    }
  }

  /** One clone and one exec, in a session of its own; null when it could not start (the error went out). */
  private StartedProgram startSpawned(Path program, List<String> argv, Map<String, String> env, File dir) throws IOException {
    try {
      return PosixSpawn.start(program.toString(), argv, env, start.getEnvMap().isEmpty(), dir == null ? null : dir.getPath(),
          start.getMergeOutput());
    } catch (IOException e) {
      fail(StreamError.Code.NOT_FOUND, "cannot run '" + argv.get(0) + "': " + e.getMessage());
      return null;
    }
  }

  /** The JDK's launcher through a setsid (the guest has no posix_spawn that makes a session), else as it is. */
  private StartedProgram startWithSetsid(Path program, List<String> argv, Map<String, String> env, File dir) throws IOException {
    GuestPlatform.Session session = platform.session();
    if (session == null) {
      return startJdk(new ProcessBuilder(argv).redirectErrorStream(start.getMergeOutput()), env, dir, false);
    }
    // Its own session and process group (setsid execs in place: the pid is the group's id).
    List<String> withSession = new ArrayList<>(session.prefix());
    withSession.add(session.absoluteProgram() ? program.toString() : argv.get(0));
    withSession.addAll(argv.subList(1, argv.size()));
    return startJdk(new ProcessBuilder(withSession).redirectErrorStream(start.getMergeOutput()), env, dir, true);
  }

  private StartedProgram startJdk(ProcessBuilder pb, Map<String, String> env, File dir, boolean ownGroup) throws IOException {
    pb.environment().clear();
    pb.environment().putAll(env);
    pb.directory(dir);
    try {
      return new JdkProgram(pb.start(), ownGroup);
    } catch (IOException e) {
      fail(StreamError.Code.NOT_FOUND, "cannot run '" + pb.command().get(0) + "': " + e.getMessage());
      return null;
    }
  }

  /** Waits for a pump to end; it reports its own failures, so only the wait's own end matters here. */
  private static void awaitPipe(Future<?> pipe, long millis) throws InterruptedException {
    try {
      pipe.get(millis, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      // a pump that failed killed the program already; one still running holds only a terminal
    }
  }

  private void closePty() {
    Pty p = pty;
    if (p != null) {
      p.close();
    }
  }

  private void fail(StreamError.Code code, String message) throws IOException {
    sink.send(Frame.newBuilder().setStreamId(stream).setError(StreamError.newBuilder().setCode(code).setMessage(message)).build());
  }
}
