package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.proto.v1.RunCommandLineRequest;
import dev.vmlet.proto.v1.RunCommandLineResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gRPC client that stops reading a RunCommandLine stream holds the program back: the daemon
 * passes the client's pace on to the agent instead of buffering the output. Runs on @host (the
 * daemon's own agent), so no VM is needed.
 */
class LinePacingIT {
  static final long BYTES = 64L * 1024 * 1024;

  @TempDir Path tmp;

  @Test
  void aClientThatStopsReading_holdsTheProgramBack_andGetsEveryByteOnceItReadsAgain() throws Exception {
    try (TestDaemon d = TestDaemon.withHostExec(tmp)) {
      holdsBackAndDeliversAll(d);
    }
  }

  private void holdsBackAndDeliversAll(TestDaemon d) throws Exception {
    Path done = tmp.resolve("producer-done");
    AtomicLong received = new AtomicLong();
    CompletableFuture<Void> firstOutput = new CompletableFuture<>();
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    CompletableFuture<ClientCallStreamObserver<RunCommandLineRequest>> call = new CompletableFuture<>();
    d.client.vmsAsync().withDeadlineAfter(5, TimeUnit.MINUTES).runCommandLine(RunCommandLineRequest.newBuilder()
        .setLine("@host sh -c 'head -c " + BYTES + " /dev/zero; touch " + done + "'").build(),
        new ClientResponseObserver<RunCommandLineRequest, RunCommandLineResponse>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<RunCommandLineRequest> s) {
            s.disableAutoRequestWithInitial(1); // one message, then nothing until the test asks
            call.complete(s);
          }

          @Override
          public void onNext(RunCommandLineResponse r) {
            received.addAndGet(r.getStdout().size());
            if (r.getStdout().size() > 0) {
              firstOutput.complete(null);
            }
            if (r.hasResult()) {
              exit.complete(r.getResult().getExitCode());
            }
          }

          @Override
          public void onError(Throwable t) {
            exit.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {
            exit.complete(Integer.MIN_VALUE);
          }
        });

    // Unpaced, the 64 MiB take about a second to produce here; held back, the producer must
    // still be writing after 5 s.
    firstOutput.get(30, TimeUnit.SECONDS); // the first message arrived, with output
    Thread.sleep(5000); // the stall under test: the client reads nothing for 5 s
    long whileStalled = received.get();
    boolean finishedWhileStalled = Files.exists(done);

    call.get().request(Integer.MAX_VALUE);
    int code = exit.get(2, TimeUnit.MINUTES);
    System.out.println("LINE PACING: the client took 1 message and stopped for 5 s: bytes delivered meanwhile " + whileStalled
        + ", producer finished meanwhile " + finishedWhileStalled + "; then read on: " + received.get() + " bytes, exit " + code);
    assertThat(finishedWhileStalled).as("the producer was held back while the client did not read").isFalse();
    assertThat(whileStalled).isLessThan(BYTES / 8);
    assertThat(code).isZero();
    assertThat(received.get()).isEqualTo(BYTES);
    assertThat(done).exists();
  }
}
