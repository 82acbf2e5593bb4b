package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.common.testing.Poll;
import dev.vmlet.proto.agent.v1.FileReadStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.StreamError;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadPoolExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A pull reads and digests the file on a reader of its own while its worker frames and sends the
 * chunks: the data still arrives whole and in order with the whole file's digest, and a pull that
 * stops early (its window closed: the session ended) ends its reader too.
 */
class FilePullsTest {
  @TempDir Path dir;
  private final ThreadPoolExecutor pool = (ThreadPoolExecutor) Executors.newCachedThreadPool();
  private final List<Future<?>> readers = new CopyOnWriteArrayList<>();
  /** The pool, remembering each reader it was given (a FutureTask) to check that it ended. */
  private final Executor readersPool = r -> {
    readers.add((Future<?>) r);
    pool.execute(r);
  };
  private final List<Frame> sent = new CopyOnWriteArrayList<>();
  private final ByteArrayOutputStream data = new ByteArrayOutputStream();

  /** Keeps each frame, and a copy of its data: the pull reuses its buffers once send returns. */
  private final FrameSink sink = f -> {
    sent.add(f);
    if (f.hasFileData()) {
      synchronized (data) {
        data.writeBytes(f.getFileData().getData().toByteArray());
      }
    }
  };

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  private static String sha(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  private Path file(int size) throws Exception {
    byte[] b = new byte[size];
    new Random(size).nextBytes(b);
    return Files.write(dir.resolve("f"), b);
  }

  @ParameterizedTest(name = "reader on its own thread: {0}")
  @ValueSource(booleans = {true, false})
  void aPull_sendsInfoThenEveryChunkInOrder_thenTheDigest(boolean twoThreads) throws Exception {
    Path f = file(FilePulls.BUFFERS * PullFile.BUFFER + 3 * GuestFiles.CHUNK + 123); // more than the reader's buffers hold
    byte[] want = Files.readAllBytes(f);
    FilePulls.pull(1, FileReadStart.newBuilder().setPath(f.toString()).build(), sink, new SendWindow(Long.MAX_VALUE / 2),
        twoThreads ? readersPool : null);
    assertThat(readers).hasSize(twoThreads ? 1 : 0);
    assertThat(sent.get(0).hasFileInfo()).isTrue();
    assertThat(sent.get(0).getFileInfo().getSize()).isEqualTo(want.length);
    assertThat(data.toByteArray()).isEqualTo(want);
    Frame done = sent.get(sent.size() - 1);
    assertThat(done.getFileDone().getSize()).isEqualTo(want.length);
    assertThat(done.getFileDone().getSha256()).isEqualTo(sha(want));
    assertThat(sent).allSatisfy(fr -> assertThat(fr.getFileData().getData().size()).isLessThanOrEqualTo(GuestFiles.CHUNK));
  }

  @ParameterizedTest(name = "reader on its own thread: {0}")
  @ValueSource(booleans = {true, false})
  void aPullFromAnOffset_sendsTheRest_andDigestsTheWholeFile(boolean twoThreads) throws Exception {
    Path f = file(100_000);
    byte[] want = Files.readAllBytes(f);
    FilePulls.pull(2, FileReadStart.newBuilder().setPath(f.toString()).setOffset(40_000).build(), sink,
        new SendWindow(Long.MAX_VALUE / 2), twoThreads ? readersPool : null);
    assertThat(data.toByteArray()).isEqualTo(java.util.Arrays.copyOfRange(want, 40_000, want.length));
    assertThat(sent.get(sent.size() - 1).getFileDone().getSha256()).isEqualTo(sha(want));
  }

  @Test
  void anOffsetPastTheEnd_isRefusedSayingSo() throws Exception {
    Path f = file(1000);
    FilePulls.pull(3, FileReadStart.newBuilder().setPath(f.toString()).setOffset(5000).build(), sink, new SendWindow(), readersPool);
    assertThat(sent.get(sent.size() - 1).getError().getCode()).isEqualTo(StreamError.Code.INVALID_ARGUMENT);
    assertThat(sent.get(sent.size() - 1).getError().getMessage()).contains("past the end");
  }

  @Test
  void aPullWhoseWindowCloses_answersTheReason_andItsReaderEnds() throws Exception {
    Path f = file(4 << 20);
    SendWindow window = new SendWindow(2 * GuestFiles.CHUNK); // two chunks, then it waits for credit
    Thread worker = new Thread(() -> FilePulls.pull(4, FileReadStart.newBuilder().setPath(f.toString()).build(), sink, window,
        readersPool));
    worker.start();
    Poll.until("two chunks sent", Duration.ofSeconds(30), () -> sent.stream().filter(Frame::hasFileData).count() == 2);
    window.close("the session with the host ended");
    worker.join(30_000);
    assertThat(worker.isAlive()).isFalse();
    assertThat(sent.get(sent.size() - 1).getError().getMessage()).isEqualTo("the session with the host ended");
    assertThat(readers).singleElement().satisfies(r -> assertThat(r.isDone()).isTrue());
    Poll.until("the reader's thread to be idle", Duration.ofSeconds(30), () -> pool.getActiveCount() == 0);
  }
}
