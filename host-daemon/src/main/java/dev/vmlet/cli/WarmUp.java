package dev.vmlet.cli;

import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecRequest;
import dev.vmlet.proto.v1.ExecResponse;
import dev.vmlet.proto.v1.ListVmsRequest;
import dev.vmlet.proto.v1.ListVmsResponse;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmServiceGrpc;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.VmState;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.StreamObserver;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.Accel;

/**
 * The CLI's training run for its class-data-sharing archive: the launcher runs this once per
 * build with {@code -XX:DumpLoadedClassList}, makes a static archive of the classes it loaded
 * ({@code -Xshare:dump}), and every later command maps them instead of reading, verifying and
 * linking them from the jar again. It runs the commands people
 * type most ({@code list}, {@code info}, {@code exec}) through the real CLI and the real unix
 * socket transport, against a stand-in VmService on a temporary socket, so that no daemon or VM
 * is needed. Output is thrown away; the exit code says whether all three ran.
 */
public final class WarmUp {
  private WarmUp() {}

  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("vmlet-warm-up");
    Path socket = dir.resolve("s.sock");
    EpollEventLoopGroup group = new EpollEventLoopGroup(1);
    Server server = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(group).workerEventLoopGroup(group)
        .addService(new StandIn()).build().start();
    PrintStream out = System.out;
    int failed = 0;
    try {
      System.setOut(new PrintStream(OutputStream.nullOutputStream()));
      String s = socket.toString();
      failed += Main.run("list", "--socket", s) == 0 ? 0 : 1;
      failed += Main.run("info", "warm-up", "--socket", s) == 0 ? 0 : 1;
      failed += Main.run("exec", "warm-up", "--socket", s, "--", "true") == 0 ? 0 : 1;
    } finally {
      System.setOut(out);
      server.shutdownNow().awaitTermination(2, TimeUnit.SECONDS);
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      Files.deleteIfExists(socket);
      Files.deleteIfExists(dir);
    }
    System.exit(failed == 0 ? 0 : 1);
  }

  /** Answers the warm-up's three calls the way a daemon with one running VM would. */
  private static final class StandIn extends VmServiceGrpc.VmServiceImplBase {
    private static final Vm VM = Vm.newBuilder().setSpec(VmSpec.newBuilder().setName("warm-up").setVcpus(1).setMemoryMib(512)
        .putLabels("role", "warm-up")).setState(VmState.RUNNING).setAccel(Accel.ACCEL_TCG).setAgentReady(true).build();

    @Override
    public void listVms(ListVmsRequest request, StreamObserver<ListVmsResponse> reply) {
      reply.onNext(ListVmsResponse.newBuilder().addVms(VM).build());
      reply.onCompleted();
    }

    @Override
    public void getVm(VmRef request, StreamObserver<Vm> reply) {
      reply.onNext(VM);
      reply.onCompleted();
    }

    @Override
    public StreamObserver<ExecRequest> exec(StreamObserver<ExecResponse> reply) {
      return new StreamObserver<>() {
        @Override
        public void onNext(ExecRequest r) {
          if (r.getArgvCount() > 0) {
            reply.onNext(ExecResponse.newBuilder().setStdout(ByteString.copyFromUtf8("warm-up\n")).build());
            reply.onNext(ExecResponse.newBuilder().setExit(ExecExit.newBuilder().setExitCode(0)).build());
            reply.onCompleted();
          }
        }

        @Override
        public void onError(Throwable t) {
          // the client went away; the warm-up's own exit code reports it
        }

        @Override
        public void onCompleted() {
          // the exit was sent with the first message
        }
      };
    }
  }
}
