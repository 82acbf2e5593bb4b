package dev.vmlet.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecOutput;
import dev.vmlet.proto.v1.ExecStart;
import dev.vmlet.proto.v1.Frame;
import dev.vmlet.proto.v1.Hello;
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
    return Frame.newBuilder().setHello(Hello.newBuilder().setInstanceId(instance).setAgentVersion("t")).build();
  }

  @Test
  void helloWithTheRightInstanceId_isWelcomed_andMarksTheAgentReady() throws Exception {
    toHost.write(hello("instance-1"));
    assertThat(fromHost.read().hasWelcome()).isTrue();
    assertThat(ready.poll(5, TimeUnit.SECONDS)).isNotNull().extracting(Hello::getInstanceId).isEqualTo("instance-1");
    assertThat(link.hello()).isNotNull();
  }

  @Test
  void helloFromAnotherInstance_isIgnored() throws Exception {
    toHost.write(hello("someone-else"));
    toHost.write(hello("instance-1"));
    // The only Welcome answers the second Hello.
    assertThat(fromHost.read().hasWelcome()).isTrue();
    assertThat(ready.poll(5, TimeUnit.SECONDS).getInstanceId()).isEqualTo("instance-1");
    assertThat(ready).isEmpty();
  }

  @Test
  void exec_routesOutputAndExitOfItsStream_andDropsFramesForUnknownStreams() throws Exception {
    toHost.write(hello("instance-1"));
    fromHost.read();
    ready.poll(5, TimeUnit.SECONDS);
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    int id = link.exec(ExecStart.newBuilder().addArgv("echo").addArgv("hi").build(), recorder(events));
    Frame start = fromHost.read();
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
    toHost.write(hello("instance-1"));
    fromHost.read();
    ready.poll(5, TimeUnit.SECONDS);
    BlockingQueue<String> events = new LinkedBlockingQueue<>();
    link.exec(ExecStart.newBuilder().addArgv("sleep").addArgv("100").build(), recorder(events));
    fromHost.read();
    guest.close();
    assertThat(events.poll(5, TimeUnit.SECONDS)).startsWith("failed:").contains("closed");
    assertThat(closed.await(5, TimeUnit.SECONDS)).isTrue();
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
