package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.common.session.TokenProof;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.logging.Logger;
import dev.vmlet.common.frame.FrameDecoder;
import dev.vmlet.common.frame.FrameEncoder;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Frame;
import java.util.ArrayList;
import java.util.List;

/**
 * The vmlet guest agent. Usage: {@code java -jar vmlet-agent.jar [--port PATH | --unix-socket PATH]
 * [--instance-id ID]}. Without --instance-id it reads {@code vmlet.instance_id=} from
 * /proc/cmdline.
 */
public final class AgentMain {
  private static final Logger LOG = Logger.getLogger(AgentMain.class.getName());

  private AgentMain() {}

  public static void main(String[] args) throws Exception {
    long mainMs = BootClock.nowMs();
    AgentLogFormat.install();
    String port = GuestPlatform.current().defaultPort();
    String socket = null;
    String serial = null;
    String instance = null;
    Path policy = Agent.DEFAULT_POLICY;
    Path tokenFile = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--port" -> port = value(args, ++i, a);
        case "--unix-socket" -> socket = value(args, ++i, a);
        case "--serial" -> serial = value(args, ++i, a);
        case "--instance-id" -> instance = value(args, ++i, a);
        case "--policy" -> policy = Path.of(value(args, ++i, a));
        case "--token-file" -> tokenFile = Path.of(value(args, ++i, a));
        case "--warm-up" -> {
          warmUp();
          return;
        }
        case "--version" -> {
          System.out.println("vmlet-agent " + Agent.VERSION);
          return;
        }
        case "-h", "--help" -> {
          System.out.println("usage: vmlet-agent [--port PATH | --serial PORT | --unix-socket PATH] [--instance-id ID] [--policy FILE] [--token-file FILE]");
          return;
        }
        default -> usage("unknown option " + a);
      }
    }
    String cmdline = GuestFacts.firstLine(Path.of("/proc/cmdline")).orElse("");
    if (GuestFacts.kernelParameter(cmdline, "vmlet_trace").filter("hops"::equals).isPresent()) {
      HopTrace.enable(true); // each request's hops in the log (docs/benchmarks.md)
    }
    if (socket == null && serial == null && port.equals(GuestPlatform.current().defaultPort())) {
      if (GuestFacts.kernelParameter(cmdline, "vmlet.agent_port").filter("serial"::equals).isPresent()) {
        serial = GuestPlatform.current().defaultSerialPort(); // the VM was made with agent_port serial
      }
    }
    if (instance == null) {
      instance = GuestFacts.firstLine(Path.of("/proc/cmdline"))
          .flatMap(c -> GuestFacts.kernelParameter(c, "vmlet.instance_id"))
          .orElseGet(() -> usage("no --instance-id and no vmlet.instance_id= on the kernel command line"));
    }
    Hello hello = Hello.newBuilder()
        .setInstanceId(instance)
        .setBootId(GuestFacts.bootId())
        .setAgentVersion(Agent.VERSION)
        .setProtocolVersion(Agent.PROTOCOL_VERSION)
        .setMinProtocolVersion(Agent.MIN_PROTOCOL_VERSION)
        .setGuest(GuestFacts.read())
        .setBootTimes(BootClock.atStart(mainMs))
        .build();
    Agent[] agent = new Agent[1];
    Transport t = socket != null ? new UnixSocketTransport(Path.of(socket))
        : serial != null ? new SerialTransport(serial)
        : new PortTransport(Path.of(port), () -> agent[0].hostGone("the port said no host end is connected (a read gave 0 bytes)"));
    Policy rules = Policy.load(policy);
    if (socket == null) {
      SmbiosSettings.load(); // in a VM: its credentials and proxy, before the first program runs
    }
    agent[0] = new Agent(t, hello, Duration.ofSeconds(1), rules);
    if (tokenFile != null) {
      agent[0].tokenFile(tokenFile);
    }
    LOG.info("agent " + Agent.VERSION + " starting, instance " + instance + ", " + (socket != null ? "unix:" + socket : serial != null ? "serial:" + serial : port)
        + ", policy: " + rules);
    agent[0].run();
  }

  /**
   * Runs the start-up path once without a host: builds and encodes a Hello, decodes it, runs a
   * program, makes the native set-up, answers a token challenge. The image builder records the classes this loads in a CDS archive, so that the agent
   * in a guest starts faster.
   */
  static void warmUp() throws Exception {
    Hello hello = Hello.newBuilder().setInstanceId("warm-up").setBootId(GuestFacts.bootId())
        .setAgentVersion(Agent.VERSION).setGuest(GuestFacts.read()).setBootTimes(BootClock.atStart(BootClock.nowMs())).build();
    byte[] wire = FrameEncoder.encode(Frame.newBuilder().setHello(hello).build());
    List<Frame> frames = new ArrayList<>();
    new FrameDecoder(frames::add, e -> { }).decode(wire, 0, wire.length);
    new ExecRunner(1, ExecStart.newBuilder().addArgv("true").build(), frames::add).run();
    // The native set-up that exec began (ExecRunner.SpawnLoad), awaited: JNA's classes and the
    // bindings', and a program started through posix_spawn, go into the archive too.
    ExecRunner.SpawnLoad.await();
    // The answer to the host's challenge (plain-Java HMAC-SHA256, interpreted until C1 compiles it).
    TokenProof.hmac(new byte[32], new byte[32], "warm-up");
    // The agent itself as main builds it (its handlers, a random start id), without a host to serve.
    try (Agent agent = new Agent(() -> {
      throw new IOException("warm-up: no host");
    }, hello, Duration.ofSeconds(1), Policy.allowAll())) {
      agent.handlers();
    }
    LOG.info("warm-up done: " + frames.size() + " frames");
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      usage(option + " needs a value");
    }
    return args[i];
  }

  private static String usage(String problem) {
    System.err.println("vmlet-agent: " + problem);
    System.err.println("usage: vmlet-agent [--port PATH | --serial PORT | --unix-socket PATH] [--instance-id ID] [--policy FILE] [--token-file FILE]");
    System.exit(2);
    return null;
  }
}
