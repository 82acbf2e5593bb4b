package dev.vmlet.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.common.frame.FrameReader;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileOffset;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.proto.v1.PushFileHeader;
import dev.vmlet.proto.v1.PushFileRequest;
import dev.vmlet.proto.agent.v1.StreamError;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmServiceGrpc;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.agent.v1.WindowUpdate;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import java.util.Arrays;

/**
 * PushFile through an in-process gRPC server with ONE executor thread, into a scripted guest on a
 * unix socket that grants credit only when a test says so: a push that waits for the guest holds
 * neither the gRPC thread nor a pump thread, and a cancel tells the guest to drop the file.
 */
class PushCallTest {
  private static final int MESSAGE = 256 * 1024;
  @TempDir Path dir;
  private AFUNIXServerSocket agentSocket;
  private AFUNIXSocket guest;
  private FrameWriter toHost;
  private final BlockingQueue<Frame> fromHost = new LinkedBlockingQueue<>();
  private AgentLink link;
  private ExecutorService grpcThread;
  private ThreadPoolExecutor pumps;
  private Server server;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    Path sock = dir.resolve("agent.sock");
    // junixsocket, not a SocketChannel: the scripted guest reads on one thread while the test writes.
    agentSocket = AFUNIXServerSocket.newInstance();
    agentSocket.bind(AFUNIXSocketAddress.of(sock.toFile()));
    BlockingQueue<Hello> ready = new LinkedBlockingQueue<>();
    link = AgentLink.connect("vm1", "instance-1", sock, Duration.ofSeconds(5), ready::add, () -> { });
    guest = agentSocket.accept();
    toHost = new FrameWriter(guest.getOutputStream());
    FrameReader reader = new FrameReader(guest.getInputStream(), e -> { });
    Thread t = new Thread(() -> {
      try {
        Frame f;
        while ((f = reader.read()) != null) {
          if (!f.hasHeartbeat()) {
            fromHost.add(f);
          }
        }
      } catch (Exception e) {
        // the test ended
      }
    }, "scripted-guest");
    t.setDaemon(true);
    t.start();
    toHost.write(Frame.newBuilder().setHello(Hello.newBuilder().setInstanceId("instance-1").setAgentVersion("t")
        .setProtocolVersion(1).setAgentStartId("s")).build());
    assertThat(ready.poll(10, TimeUnit.SECONDS)).isNotNull();
    assertThat(next().hasWelcome()).isTrue();

    grpcThread = Executors.newSingleThreadExecutor();
    pumps = new ThreadPoolExecutor(0, 4, 10, TimeUnit.SECONDS, new SynchronousQueue<>());
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).executor(grpcThread).addService(new VmServiceGrpc.VmServiceImplBase() {
      @Override
      public StreamObserver<PushFileRequest> pushFile(StreamObserver<FileTransferResult> out) {
        return PushCall.start(vm -> link, out, pumps);
      }

      @Override
      public void getVm(VmRef req, StreamObserver<Vm> out) {
        out.onNext(Vm.newBuilder().setSpec(VmSpec.newBuilder().setName(req.getName())).build());
        out.onCompleted();
      }
    }).build().start();
    channel = InProcessChannelBuilder.forName(name).build();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    grpcThread.shutdownNow();
    pumps.shutdownNow();
    link.close();
    guest.close();
    agentSocket.close();
  }

  private Frame next() throws InterruptedException {
    Frame f = fromHost.poll(10, TimeUnit.SECONDS);
    assertThat(f).as("a frame from the host within 10 s").isNotNull();
    return f;
  }

  /** A push call; its request stream, and its answer. */
  private record Upload(ClientCallStreamObserver<PushFileRequest> requests, CompletableFuture<FileTransferResult> result) {}

  private Upload upload() {
    CompletableFuture<FileTransferResult> result = new CompletableFuture<>();
    CompletableFuture<ClientCallStreamObserver<PushFileRequest>> requests = new CompletableFuture<>();
    VmServiceGrpc.newStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS).pushFile(
        new ClientResponseObserver<PushFileRequest, FileTransferResult>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<PushFileRequest> r) {
            requests.complete(r);
          }

          @Override
          public void onNext(FileTransferResult r) {
            result.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
          }
        });
    return new Upload(requests.join(), result);
  }

  private static void send(Upload u, PushFileHeader.Builder header, byte[] data) {
    u.requests().onNext(PushFileRequest.newBuilder().setHeader(header.setName("vm1")).build());
    for (int off = 0; off < data.length; off += MESSAGE) {
      u.requests().onNext(PushFileRequest.newBuilder().setData(ByteString.copyFrom(data, off, Math.min(MESSAGE, data.length - off))).build());
    }
  }

  /** Reads the push's data frames until {@code bytes} arrived. */
  private void receive(int stream, long bytes, MessageDigest digest) throws InterruptedException {
    long got = 0;
    while (got < bytes) {
      Frame f = next();
      assertThat(f.getStreamId()).isEqualTo(stream);
      assertThat(f.hasFileData()).as("data, got %s", f.getBodyCase()).isTrue();
      digest.update(f.getFileData().getData().toByteArray());
      got += f.getFileData().getData().size();
    }
    assertThat(got).isEqualTo(bytes);
  }

  @Test
  void aPushToAGuestThatGrantsNoCredit_holdsNoThread_andACancelTellsTheGuestToDropIt() throws Exception {
    byte[] data = new byte[4 << 20];
    new Random(5).nextBytes(data);
    Upload u = upload();
    send(u, PushFileHeader.newBuilder().setPath("/tmp/f"), data);
    Frame start = next();
    assertThat(start.getFileWriteStart().getPath()).isEqualTo("/tmp/f");
    receive(start.getStreamId(), SendWindow.INITIAL, MessageDigest.getInstance("SHA-256"));

    // The window is full and the client has sent 16 times that: the one gRPC thread still answers.
    Vm other = VmServiceGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
        .getVm(VmRef.newBuilder().setName("other").build());
    assertThat(other.getSpec().getName()).isEqualTo("other");
    assertThat(fromHost.poll(300, TimeUnit.MILLISECONDS)).as("nothing past the window").isNull();
    assertThat(pumps.getActiveCount()).as("no pump thread waits for the guest's credit").isZero();

    u.requests().cancel("the user pressed ^C", null);
    Frame drop = next();
    assertThat(drop.getStreamId()).isEqualTo(start.getStreamId());
    assertThat(drop.getError().getCode()).isEqualTo(StreamError.Code.CANCELLED);
    assertThatThrownBy(u.result()::join).hasMessageContaining("CANCELLED");
    assertThat(fromHost.poll(300, TimeUnit.MILLISECONDS)).as("no FileEnd, no more data").isNull();
  }

  @Test
  void aPushGoesOnAsTheGuestGrantsCredit_andEndsWithTheSourcesDigest() throws Exception {
    byte[] data = new byte[1 << 20];
    new Random(6).nextBytes(data);
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    Upload u = upload();
    send(u, PushFileHeader.newBuilder().setPath("/tmp/g"), data);
    u.requests().onNext(PushFileRequest.newBuilder().setSha256(sha).build());
    u.requests().onCompleted();
    int id = next().getStreamId();
    MessageDigest received = MessageDigest.getInstance("SHA-256");
    for (int got = 0; got < data.length; got += SendWindow.INITIAL) {
      receive(id, SendWindow.INITIAL, received);
      toHost.write(Frame.newBuilder().setStreamId(id).setWindowUpdate(WindowUpdate.newBuilder().setBytes(SendWindow.INITIAL)).build());
    }
    Frame end = next();
    assertThat(end.getFileEnd().getSize()).isEqualTo(data.length);
    assertThat(end.getFileEnd().getSha256()).isEqualTo(sha).isEqualTo(HexFormat.of().formatHex(received.digest()));
    toHost.write(Frame.newBuilder().setStreamId(id).setFileDone(FileDone.newBuilder().setSize(data.length).setSha256(sha)).build());
    FileTransferResult r = u.result().get(10, TimeUnit.SECONDS);
    assertThat(r.getSize()).isEqualTo(data.length);
    assertThat(r.getSha256()).isEqualTo(sha);
  }

  @Test
  void aResumedPush_sendsOnlyWhatTheGuestLacks_butEndsWithTheWholeFilesDigest() throws Exception {
    byte[] data = new byte[600 * 1024];
    new Random(7).nextBytes(data);
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    int kept = 300 * 1024; // not on a message boundary
    Upload u = upload();
    send(u, PushFileHeader.newBuilder().setPath("/tmp/h").setResume(true), data);
    u.requests().onCompleted();
    Frame start = next();
    assertThat(start.getFileWriteStart().getResume()).isTrue();
    int id = start.getStreamId();
    assertThat(fromHost.poll(300, TimeUnit.MILLISECONDS)).as("no data before the guest said what it kept").isNull();
    toHost.write(Frame.newBuilder().setStreamId(id).setFileOffset(FileOffset.newBuilder().setOffset(kept)).build());
    MessageDigest rest = MessageDigest.getInstance("SHA-256");
    long got = 0;
    while (got < data.length - kept) { // as a real guest does: each frame's credit back once it is written
      Frame f = next();
      assertThat(f.hasFileData()).as("data, got %s", f.getBodyCase()).isTrue();
      rest.update(f.getFileData().getData().toByteArray());
      got += f.getFileData().getData().size();
      toHost.write(Frame.newBuilder().setStreamId(id).setWindowUpdate(WindowUpdate.newBuilder()
          .setBytes(f.getFileData().getData().size())).build());
    }
    assertThat(got).isEqualTo(data.length - kept);
    assertThat(rest.digest()).isEqualTo(MessageDigest.getInstance("SHA-256").digest(Arrays.copyOfRange(data, kept, data.length)));
    Frame end = next();
    assertThat(end.getFileEnd().getSize()).isEqualTo(data.length);
    assertThat(end.getFileEnd().getSha256()).isEqualTo(sha);
    toHost.write(Frame.newBuilder().setStreamId(id).setFileDone(FileDone.newBuilder().setSize(data.length).setSha256(sha)).build());
    assertThat(u.result().get(10, TimeUnit.SECONDS).getResumedFrom()).isEqualTo(kept);
  }

  @Test
  void aGuestThatRefusesThePush_failsTheCallWithItsCode() throws Exception {
    Upload u = upload();
    send(u, PushFileHeader.newBuilder().setPath("/etc/passwd"), new byte[MESSAGE]);
    int id = next().getStreamId();
    toHost.write(Frame.newBuilder().setStreamId(id).setError(StreamError.newBuilder()
        .setCode(StreamError.Code.PERMISSION_DENIED).setMessage("denied: file-write of /etc/passwd")).build());
    assertThatThrownBy(() -> u.result().get(10, TimeUnit.SECONDS)).hasMessageContaining("PERMISSION_DENIED")
        .hasMessageContaining("denied: file-write of /etc/passwd");
  }
}
