package dev.vmlet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Hello;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The host end of the link against a scripted guest on a unix socket (QEMU's role: the server). */
class AgentLinkTest {
  @TempDir Path dir;
  private ServerSocketChannel server;
  private SocketChannel guest;
  private FrameReader fromHost;
  private FrameWriter toHost;
  private AgentLink link;
  private final BlockingQueue<Hello> ready = new LinkedBlockingQueue<>();
  private final CountDownLatch closed = new CountDownLatch(1);

  @BeforeEach
  void connect() throws Exception {
    Path sock = dir.resolve("agent.sock");
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(sock));
    link = AgentLink.connect("vm1", "instance-1", sock, Duration.ofSeconds(5), ready::add, closed::countDown);
    guest = server.accept();
    fromHost = new FrameReader(Channels.newInputStream(guest), e -> { });
    toHost = new FrameWriter(Channels.newOutputStream(guest));
  }

  @AfterEach
  void close() throws Exception {
    link.close();
    guest.close();
    server.close();
  }

  private static Frame hello(String instance) {
    return Frame.newBuilder().setHello(Hello.newBuilder().setInstanceId(instance).setAgentVersion("t").setProtocolVersion(1)
        .setAgentStartId("start-1")).build();
  }

  /** The next frame from the host that is not a heartbeat. */
  private Frame read() throws Exception {
    Frame f;
    do {
      f = fromHost.read();
    } while (f.hasHeartbeat());
    return f;
  }

  @Test
  void helloWithProtocolVersionsTheHostDoesNotSpeak_isRefusedWithBothRanges() throws Exception {
    toHost.write(Frame.newBuilder().setHello(Hello.newBuilder().setInstanceId("instance-1").setAgentVersion("9.0")
        .setProtocolVersion(3).setMinProtocolVersion(2)).build());
    Frame f = read();
    assertThat(f.hasRefused()).isTrue();
    assertThat(f.getRefused().getMessage()).contains("speaks protocol versions 2..3", "this daemon 1..1", "upgrade the daemon");
    assertThat(f.getRefused().getMaxProtocolVersion()).isEqualTo(1);
    assertThat(link.hello()).isNull();
    assertThat(ready.poll(200, TimeUnit.MILLISECONDS)).isNull();
  }

  /** Says Hello, is welcomed, and starts an exec that runs on: its events are returned. */
  private BlockingQueue<String> welcomedWithAnExecInFlight() throws Exception {
    toHost.write(hello("instance-1"));
    read();
    ready.poll(5, TimeUnit.SECONDS);
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    link.exec(ExecStart.newBuilder().addArgv("sleep").addArgv("100").build(), recorder(events));
    read();
    return events;
  }

  @Test
  void aRepeatedHelloOfTheSameSession_keepsItsStreams_butANewAgentStartFailsThem() throws Exception {
    BlockingQueue<String> events = welcomedWithAnExecInFlight();
    toHost.write(hello("instance-1")); // sent before the Welcome reached the agent
    assertThat(read().hasWelcome()).isTrue();
    assertThat(events.poll(300, TimeUnit.MILLISECONDS)).isNull();
    assertThat(ready).isEmpty();
    toHost.write(Frame.newBuilder().setHello(hello("instance-1").getHello().toBuilder().setAgentStartId("start-2")).build());
    assertThat(events.poll(5, TimeUnit.SECONDS)).startsWith("failed:").contains("agent of VM vm1 restarted");
    assertThat(ready.poll(5, TimeUnit.SECONDS).getAgentStartId()).isEqualTo("start-2");
  }

  @Test
  void aNewSessionOfTheSameAgentStart_failsRequestsInFlight_withWhyTheAgentSaysItsSessionEnded() throws Exception {
    BlockingQueue<String> events = welcomedWithAnExecInFlight();
    toHost.write(Frame.newBuilder().setHello(hello("instance-1").getHello().toBuilder().setSessionNumber(1)
        .setPreviousSessionEnd("nothing from the host for 15012 ms (3 heartbeat intervals of 5000 ms)")).build());
    assertThat(events.poll(5, TimeUnit.SECONDS)).startsWith("failed:")
        .contains("agent of VM vm1 started a new session (it lost the host: nothing from the host for 15012 ms");
  }

  @Test
  void anAgentThatStopsAnsweringHeartbeats_isLost_andItsRequestsFail() throws Exception {
    BlockingQueue<String> lost = new LinkedBlockingQueue<>();
    try (FastLink fast = FastLink.open(dir.resolve("agent2.sock"), lost)) {
      AgentLink l2 = fast.link();
      SocketChannel g2 = fast.guest();
      FrameWriter w2 = new FrameWriter(Channels.newOutputStream(g2));
      FrameReader r2 = new FrameReader(Channels.newInputStream(g2), e -> { });
      Frame first = r2.read();
      assertThat(first.getHeartbeat().getNoSession()).as("a new link says it has no session first").isTrue();
      w2.write(hello("instance-1"));
      assertThat(r2.read().hasWelcome()).isTrue();
      BlockingQueue<String> events = new LinkedBlockingQueue<>();
      l2.exec(ExecStart.newBuilder().addArgv("sleep").addArgv("100").build(), recorder(events));
      // The agent says nothing more: after three 100 ms intervals the session is over.
      assertThat(lost.poll(5, TimeUnit.SECONDS)).contains("has not answered");
      assertThat(events.poll(5, TimeUnit.SECONDS)).startsWith("failed:").contains("requests in flight failed");
      assertThat(l2.hello()).isNull();
      // Heartbeats were sent meanwhile, each with a new sequence number.
      Frame f;
      long last = 0;
      int beats = 0;
      while (beats < 2 && (f = r2.read()) != null) {
        if (f.hasHeartbeat() && !f.getHeartbeat().getNoSession()) {
          assertThat(f.getHeartbeat().getSequence()).isGreaterThan(last);
          last = f.getHeartbeat().getSequence();
          beats++;
        }
      }
      assertThat(beats).isEqualTo(2);
    }
  }

  @Test
  void helloWithTheRightInstanceId_isWelcomed_andMarksTheAgentReady() throws Exception {
    toHost.write(hello("instance-1"));
    assertThat(read().hasWelcome()).isTrue();
    assertThat(ready.poll(5, TimeUnit.SECONDS)).isNotNull().extracting(Hello::getInstanceId).isEqualTo("instance-1");
    assertThat(link.hello()).isNotNull();
  }

  @Test
  void helloFromAnotherInstance_isIgnored() throws Exception {
    toHost.write(hello("someone-else"));
    toHost.write(hello("instance-1"));
    // The only Welcome answers the second Hello.
    assertThat(read().hasWelcome()).isTrue();
    assertThat(ready.poll(5, TimeUnit.SECONDS).getInstanceId()).isEqualTo("instance-1");
    assertThat(ready).isEmpty();
  }

  @Test
  void exec_routesOutputAndExitOfItsStream_andDropsFramesForUnknownStreams() throws Exception {
    toHost.write(hello("instance-1"));
    read();
    ready.poll(5, TimeUnit.SECONDS);
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    int id = link.exec(ExecStart.newBuilder().addArgv("echo").addArgv("hi").build(), recorder(events));
    Frame start = read();
    assertThat(start.getStreamId()).isEqualTo(id);
    assertThat(start.getExecStart().getArgvList()).containsExactly("echo", "hi");

    toHost.write(output(99, ExecOutput.Fd.STDOUT, "not yours"));
    toHost.write(output(id, ExecOutput.Fd.STDOUT, "hi\n"));
    toHost.write(output(id, ExecOutput.Fd.STDERR, "warn\n"));
    toHost.write(Frame.newBuilder().setStreamId(id).setExecExit(ExecExit.newBuilder().setExitCode(3)).build());
    assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("out:hi\n");
    assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("err:warn\n");
    assertThat(events.poll(5, TimeUnit.SECONDS)).isEqualTo("exit:3");
  }

  @Test
  void guestGoingAway_failsTheOpenExec_andClosesTheLink() throws Exception {
    BlockingQueue<String> events = welcomedWithAnExecInFlight();
    guest.close();
    assertThat(events.poll(5, TimeUnit.SECONDS)).startsWith("failed:").contains("closed");
    assertThat(closed.await(5, TimeUnit.SECONDS)).isTrue();
  }

  /** A link whose heartbeat interval is 100 ms (silence limit 300 ms), its lost sessions told to a queue, and the guest's end. */
  private record FastLink(ServerSocketChannel server, AgentLink link, SocketChannel guest) implements AutoCloseable {
    static FastLink open(Path sock, BlockingQueue<String> lost) throws Exception {
      ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(sock));
      AgentLink link = AgentLink.connect("vm2", "instance-1", sock, Duration.ofSeconds(5), Duration.ofMillis(100), new AgentLink.Events() {
        @Override
        public void ready(Hello h) {
        }

        @Override
        public void lost(String reason) {
          lost.add(reason);
        }

        @Override
        public void closed() {
        }
      });
      return new FastLink(server, link, server.accept());
    }

    @Override
    public void close() throws Exception {
      link.close();
      guest.close();
      server.close();
    }
  }

  @Test
  void aFrameSlowerThanTheSilenceLimit_keepsTheSessionWhileItsBytesArrive_andSilenceStillEndsIt() throws Exception {
    BlockingQueue<String> lost = new LinkedBlockingQueue<>();
    try (FastLink fast = FastLink.open(dir.resolve("agent3.sock"), lost)) {
      AgentLink l3 = fast.link();
      SocketChannel g3 = fast.guest();
      OutputStream raw = Channels.newOutputStream(g3);
      FrameReader r3 = new FrameReader(Channels.newInputStream(g3), e -> { });
      assertThat(r3.read().getHeartbeat().getNoSession()).isTrue();
      new FrameWriter(raw).write(hello("instance-1"));
      assertThat(r3.read().hasWelcome()).isTrue();
      ByteArrayOutputStream encoded = new ByteArrayOutputStream();
      new FrameWriter(encoded).write(output(99, ExecOutput.Fd.STDOUT, "x".repeat(4000)));
      byte[] frame = encoded.toByteArray();
      // One frame over 1.5 s, five times the 300 ms limit, a piece every 50 ms: a slow serial port's pace.
      int pieces = 30;
      for (int i = 0; i < pieces; i++) {
        int from = i * frame.length / pieces;
        raw.write(frame, from, (i + 1) * frame.length / pieces - from);
        raw.flush();
        Thread.sleep(50); // the port's pace, not a wait for the link
      }
      assertThat(lost).as("no session lost while the frame's bytes kept arriving").isEmpty();
      assertThat(l3.hello()).isNotNull();
      assertThat(lost.poll(5, TimeUnit.SECONDS)).as("silence still ends the session").contains("has not answered");
    }
  }

  private static Frame output(int stream, ExecOutput.Fd fd, String s) {
    return Frame.newBuilder().setStreamId(stream)
        .setExecOutput(ExecOutput.newBuilder().setFd(fd).setData(ByteString.copyFromUtf8(s))).build();
  }

  private static ExecListener recorder(BlockingQueue<String> events) {
    return new ExecListener() {
      @Override
      public void stdout(byte[] data) {
        events.add("out:" + new String(data));
      }

      @Override
      public void stderr(byte[] data) {
        events.add("err:" + new String(data));
      }

      @Override
      public void exit(ExecExit exit) {
        events.add("exit:" + exit.getExitCode());
      }

      @Override
      public void failed(String reason) {
        events.add("failed:" + reason);
      }
    };
  }
}
