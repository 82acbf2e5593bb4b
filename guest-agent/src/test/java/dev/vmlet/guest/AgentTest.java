package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.proto.agent.v1.NativeSetup;
import dev.vmlet.proto.agent.v1.Welcome;
import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.vmlet.common.testing.Poll;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import java.util.List;

/** The real agent against a test host on a unix socket: the protocol without a VM. */
class AgentTest {
  @TempDir Path dir;
  private ServerSocketChannel server;
  private Agent agent;
  private Thread agentThread;
  private SocketChannel host;
  private FrameReader in;
  private FrameWriter out;

  @BeforeEach
  void start() throws Exception {
    Path sock = dir.resolve("agent.sock");
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(sock));
    Hello hello = Hello.newBuilder().setInstanceId("inst-1").setAgentVersion(Agent.VERSION).build();
    agent = new Agent(new UnixSocketTransport(sock), hello, Duration.ofMillis(200));
    agentThread = new Thread(() -> {
      try {
        agent.run();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    agentThread.start();
    accept();
  }

  private void accept() throws Exception {
    host = server.accept();
    in = new FrameReader(Channels.newInputStream(host), e -> { });
    out = new FrameWriter(Channels.newOutputStream(host));
  }

  @AfterEach
  void stop() throws Exception {
    agent.close();
    agentThread.interrupt();
    agentThread.join(5000);
    host.close();
    server.close();
  }

  private void welcome() throws Exception {
    assertThat(in.read().getHello().getInstanceId()).isEqualTo("inst-1");
    out.write(Frame.newBuilder().setWelcome(Welcome.newBuilder().setSessionId("s")).build());
  }

  record Result(String stdout, String stderr, Frame last) {}

  private Result exec(int stream, String... argv) throws Exception {
    return exec(stream, ExecStart.newBuilder().addAllArgv(List.of(argv)).build());
  }

  private Result exec(int stream, ExecStart start) throws Exception {
    out.write(Frame.newBuilder().setStreamId(stream).setExecStart(start).build());
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    while (true) {
      Frame f = in.read();
      if (f.hasHello()) {
        continue;
      }
      assertThat(f.getStreamId()).isEqualTo(stream);
      if (f.hasExecOutput()) {
        (f.getExecOutput().getFd() == ExecOutput.Fd.STDERR ? e : o).writeBytes(f.getExecOutput().getData().toByteArray());
      } else {
        return new Result(o.toString(), e.toString(), f);
      }
    }
  }

  @Test
  void hello_isRepeatedUntilWelcomed() throws Exception {
    assertThat(in.read().hasHello()).isTrue();
    assertThat(in.read().hasHello()).isTrue();
    out.write(Frame.newBuilder().setWelcome(Welcome.newBuilder().setSessionId("s")).build());
    // After the welcome the next frame is the answer to our request, not another Hello.
    Result r = exec(1, "true");
    assertThat(r.last().getExecExit().getExitCode()).isZero();
  }

  @Test
  void exec_echo_returnsItsOutputAndExitZero() throws Exception {
    welcome();
    Result r = exec(1, "echo", "hi");
    assertThat(r.stdout()).isEqualTo("hi\n");
    assertThat(r.last().hasExecExit()).isTrue();
    assertThat(r.last().getExecExit().getExitCode()).isZero();
  }

  @Test
  void exec_keepsStderrApart_andReportsTheExitCode() throws Exception {
    welcome();
    Result r = exec(2, "sh", "-c", "echo out; echo err >&2; exit 3");
    assertThat(r.stdout()).isEqualTo("out\n");
    assertThat(r.stderr()).isEqualTo("err\n");
    assertThat(r.last().getExecExit().getExitCode()).isEqualTo(3);
  }

  @Test
  void exec_ofAMissingProgram_isAStreamError() throws Exception {
    welcome();
    Result r = exec(3, "/no/such/program");
    assertThat(r.last().hasError()).isTrue();
    assertThat(r.last().getError().getMessage()).contains("cannot run '/no/such/program'");
  }

  @Test
  void exec_pastItsTimeout_isKilledAndSaysSo() throws Exception {
    welcome();
    long t0 = System.nanoTime();
    Result r = exec(4, ExecStart.newBuilder().addArgv("sleep").addArgv("30").setTimeoutSeconds(1).build());
    assertThat(r.last().getExecExit().getTimedOut()).isTrue();
    assertThat(r.last().getExecExit().getExitCode()).isEqualTo(-1);
    assertThat(System.nanoTime() - t0).isLessThan(Duration.ofSeconds(20).toNanos());
  }

  @Test
  void exec_streamsOutputBeforeTheProgramEnds() throws Exception {
    welcome();
    out.write(Frame.newBuilder().setStreamId(5)
        .setExecStart(ExecStart.newBuilder().addArgv("sh").addArgv("-c").addArgv("echo a; sleep 2; echo b")).build());
    Frame first = in.read();
    long firstAt = System.nanoTime();
    assertThat(first.getExecOutput().getData().toStringUtf8()).isEqualTo("a\n");
    Frame f;
    do {
      f = in.read();
    } while (!f.hasExecExit());
    // The first chunk came a good while before the exit: it was not held back until the end.
    assertThat(System.nanoTime() - firstAt).isGreaterThan(Duration.ofMillis(1500).toNanos());
  }

  @Test
  void exec_withEnvAndWorkingDir_usesThem() throws Exception {
    welcome();
    Result r = exec(6, ExecStart.newBuilder().addArgv("sh").addArgv("-c").addArgv("echo $GREETING; pwd")
        .putEnv("GREETING", "hello").setWorkingDir(dir.toString()).build());
    assertThat(r.stdout()).isEqualTo("hello\n" + dir.toRealPath() + "\n");
  }

  @Test
  void exec_runsTheProgramAsTheLeaderOfASessionOfItsOwn_withOnlyItsThreeDescriptors() throws Exception {
    welcome();
    exec(8, "true"); // the first exec starts through the JDK's launcher and sets posix_spawn up after it
    Poll.until("posix_spawn's set-up", Duration.ofSeconds(60), ExecRunner.SpawnLoad::done);
    // Fields 1, 5 and 6 of /proc/PID/stat: the pid, its process group and its session.
    Result r = exec(7, "sh", "-c", "cut -d' ' -f1,5,6 /proc/$$/stat; ls /proc/$$/fd; true");
    String[] lines = r.stdout().split("\n");
    String[] ids = lines[0].split(" ");
    assertThat(ids[1]).as("process group of the program").isEqualTo(ids[0]);
    assertThat(ids[2]).as("session of the program").isEqualTo(ids[0]);
    assertThat(ProcessHandle.current().pid()).isNotEqualTo(Long.parseLong(ids[0]));
    // No descriptor of the agent's (its port, its jar) leaks into the program.
    assertThat(List.of(lines).subList(1, lines.length)).containsExactlyInAnyOrder("0", "1", "2");
  }

  @Test
  void nativeSetup_isReportedReady_onceTheSetUpAfterAnExecEnded() throws Exception {
    Assumptions.assumeTrue(System.getProperty("os.name").equals("Linux"), "Linux only");
    welcome();
    exec(9, "true"); // begins the set-up (other tests of this JVM may have begun it already)
    Poll.until("the native set-up", Duration.ofSeconds(60),
        () -> GuestFacts.info("t").getNativeSetup() == NativeSetup.NATIVE_SETUP_READY);
    // Both halves are set up: programs start with posix_spawn, and the clock and MAC calls are bound.
    assertThat(ExecRunner.SpawnLoad.done()).isTrue();
    assertThat(NativeIdentity.ready()).isTrue();
  }

  @Test
  void exec_whenPosixSpawnIsAvailable_isUsedOnLinux() {
    // Debian 12 and the micro image have glibc 2.36; this build machine too. A libc without
    // addclosefrom_np (before 2.34) or musl falls back to the JDK's launcher and a setsid.
    Assumptions.assumeTrue(System.getProperty("os.name").equals("Linux"), "Linux only");
    assertThat(PosixSpawn.available()).as("posix_spawn with a session, through JNA").isTrue();
  }

  @Test
  @Timeout(30) // a missing Hello would leave the read waiting
  void hostReconnecting_getsANewHello_sayingWhyTheOldSessionEnded() throws Exception {
    Hello first = in.read().getHello();
    assertThat(first.getPreviousSessionEnd()).isEmpty();
    out.write(Frame.newBuilder().setWelcome(Welcome.newBuilder().setSessionId("s")).build());
    assertThat(exec(1, "true").last().getExecExit().getExitCode()).isZero(); // welcomed
    host.close();
    accept();
    Hello again = in.read().getHello();
    assertThat(again.getInstanceId()).isEqualTo("inst-1");
    assertThat(again.getPreviousSessionEnd()).isEqualTo("the link to the host ended");
  }

  @Test
  @Timeout(30) // a missing Hello would leave the read waiting
  void hostSilentForThreeHeartbeats_endsTheSession_andTheNextHelloSaysSo() throws Exception {
    in.read().getHello();
    out.write(Frame.newBuilder().setWelcome(Welcome.newBuilder().setSessionId("s").setHeartbeatIntervalMs(100)).build());
    // No heartbeat follows: after 300 ms of silence the agent says Hello again on the same link.
    Hello again;
    do {
      again = in.read().getHello();
    } while (again.getPreviousSessionEnd().isEmpty()); // Hellos written before the Welcome was read
    assertThat(again.getPreviousSessionEnd()).matches("nothing from the host for \\d+ ms \\(3 heartbeat intervals of 100 ms\\)");
  }

  @Test
  void resumedInANewVm_saysHelloWithTheNewIdentity_asANewAgentStart() throws Exception {
    Path identity = dir.resolve("identity");
    agent.identityFile(identity);
    Files.writeString(identity, "instance_id=inst-1\nhostname=a\n\n\n");
    welcome();
    String firstStart = agent.hello().getAgentStartId();
    // The saved state resumes in another VM: the host's identity says who it is now. (No hostname,
    // MAC or seed here: this test must not change the machine it runs on.)
    Files.writeString(identity, "instance_id=inst-2\n\n\n");
    Files.writeString(dir.resolve("instance-id"), "inst-1\n");
    host.close();
    accept();
    Hello again = in.read().getHello();
    assertThat(again.getInstanceId()).isEqualTo("inst-2");
    assertThat(again.getAgentStartId()).isNotEqualTo(firstStart);
    // cloud-init's file of the instance id (a cloud image's) names the clone now: a restarted agent starts as the clone.
    assertThat(dir.resolve("instance-id")).hasContent("inst-2\n");
  }

  @Test
  void identity_parsesTheHostsLines_andSkipsWhatItDoesNotKnow() {
    var v = VmIdentity.parse("instance_id=i-9\nhostname=web\nmac=52:54:00:aa:bb:cc\nseed=00ff\nfuture=1\n\n\n").orElseThrow();
    assertThat(v.instanceId()).isEqualTo("i-9");
    assertThat(v.hostname()).isEqualTo("web");
    assertThat(v.mac()).isEqualTo("52:54:00:aa:bb:cc");
    assertThat(v.seed()).containsExactly(0, 0xff);
    assertThat(VmIdentity.parse("hostname=web\n")).isEmpty();
    assertThat(VmIdentity.parse("instance_id=x\nmac=not-a-mac\nseed=zz").orElseThrow().mac()).isEmpty();
  }

  @Test
  void clock_isSetWithBusyboxsWholeSeconds_onlyWhereDateIsBusybox() throws Exception {
    Path busybox = Files.writeString(dir.resolve("busybox"), "");
    Path applet = Files.createSymbolicLink(dir.resolve("date"), busybox);
    Path gnu = Files.writeString(dir.resolve("gnu-date"), "");
    assertThat(VmIdentity.isBusybox(applet)).isTrue();
    assertThat(VmIdentity.isBusybox(gnu)).isFalse();
    assertThat(VmIdentity.isBusybox(dir.resolve("no-such-date"))).isFalse();
  }

  @Test
  void defaultGateway_isReadFromTheKernelsRouteTable() throws Exception {
    List<String> routes = List.of("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
        "enp0s4\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
        "enp0s4\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0");
    assertThat(VmIdentity.defaultGateway(routes)).hasValue(java.net.InetAddress.getByName("10.0.2.2"));
    assertThat(VmIdentity.defaultGateway(routes.subList(0, 2))).isEmpty();
  }

  @Test
  void clockAndMac_areADateAndAnIpPerInterface_withoutAnUnknownClockOrABadMac() {
    String mac = "52:54:00:aa:bb:cc";
    var commands = VmIdentity.commands(1_796_198_325_631L, List.of("eth0"), mac, true);
    assertThat(commands).containsExactly(List.of("date", "-u", "-s", "@1796198326"),
        List.of("ip", "link", "set", "dev", "eth0", "address", mac));
    assertThat(VmIdentity.commands(1_796_198_325_631L, List.of(), "", false))
        .containsExactly(List.of("date", "-u", "-s", "@1796198325.631"));
    assertThat(VmIdentity.commands(0, List.of("eth0"), "not-a-mac", true)).isEmpty();
    assertThat(VmIdentity.dateArgument(1_796_198_325_005L, false)).isEqualTo("@1796198325.005");
    assertThat(VmIdentity.dateArgument(1_796_198_325_050L, false)).isEqualTo("@1796198325.050");
    assertThat(VmIdentity.dateArgument(1_796_198_325_000L, false)).isEqualTo("@1796198325.000");
  }

  @Test
  void kernelParameter_isFoundOnTheCommandLine() {
    assertThat(GuestFacts.kernelParameter("console=ttyS0 vmlet.instance_id=abc-1 quiet", "vmlet.instance_id")).hasValue("abc-1");
    assertThat(GuestFacts.kernelParameter("xvmlet.instance_id=no", "vmlet.instance_id")).isEmpty();
  }
}
