package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.agent.v1.FileEnd;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.StreamError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A push's data goes to its file and digest on a writer, not on the thread that reads the link,
 * and its credit goes back only once written; aborts and session ends take effect between chunks.
 * The writer here is a queue the test runs by hand, so each step is seen in order.
 */
class FilePushesTest {
  @TempDir Path dir;
  private final ArrayDeque<Runnable> writer = new ArrayDeque<>();
  private final FilePushes pushes = FilePushes.onWriters(writer::add);
  private final List<Frame> sent = new CopyOnWriteArrayList<>();
  private final FrameSink sink = sent::add;
  private final AtomicLong credited = new AtomicLong();
  private final AtomicInteger failures = new AtomicInteger();

  private void runWriter() {
    Runnable r;
    while ((r = writer.poll()) != null) {
      r.run();
    }
  }

  private void start(int stream, Path target) {
    pushes.start(stream, FileWriteStart.newBuilder().setPath(target.toString()).build(), sink, failures::incrementAndGet);
  }

  private static String sha(byte[]... parts) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    for (byte[] p : parts) {
      d.update(p);
    }
    return HexFormat.of().formatHex(d.digest());
  }

  private List<Path> partsIn(Path d) throws IOException {
    try (Stream<Path> s = Files.list(d)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".vmlet-part")).toList();
    }
  }

  @Test
  void data_isWrittenByTheWriter_notTheCaller_andCreditFollowsTheWrite() throws Exception {
    Path target = dir.resolve("f");
    byte[] a = "first chunk ".getBytes();
    byte[] b = "second".getBytes();
    start(1, target);
    pushes.data(1, ByteString.copyFrom(a), credited::addAndGet);
    pushes.data(1, ByteString.copyFrom(b), credited::addAndGet);
    // Nothing written yet: the caller (the link's reader) only queued the chunks.
    assertThat(Files.size(partsIn(dir).get(0))).isZero();
    assertThat(credited).hasValue(0);
    pushes.end(1, FileEnd.newBuilder().setSize(a.length + b.length).setSha256(sha(a, b)).build());
    assertThat(target).doesNotExist();

    runWriter();
    assertThat(credited).hasValue(a.length + b.length);
    assertThat(Files.readString(target)).isEqualTo("first chunk second");
    assertThat(sent).singleElement().satisfies(f -> assertThat(f.getFileDone().getSha256()).isEqualTo(sha(a, b)));
    assertThat(partsIn(dir)).isEmpty();
    assertThat(pushes.isOpen(1)).isFalse();
  }

  @Test
  void withOneVcpu_aChunkIsWrittenBeforeDataReturns_andWithTwoOnTheWriter() throws Exception {
    FilePushes one = FilePushes.forCpus(1, r -> {
      throw new AssertionError("no writer with one vCPU");
    });
    one.start(6, FileWriteStart.newBuilder().setPath(dir.resolve("one").toString()).build(), sink, failures::incrementAndGet);
    one.data(6, ByteString.copyFromUtf8("now"), credited::addAndGet);
    assertThat(credited).hasValue(3);

    FilePushes two = FilePushes.forCpus(2, writer::add);
    two.start(7, FileWriteStart.newBuilder().setPath(dir.resolve("two").toString()).build(), sink, failures::incrementAndGet);
    two.data(7, ByteString.copyFromUtf8("later"), credited::addAndGet);
    assertThat(credited).hasValue(3);
    runWriter();
    assertThat(credited).hasValue(8);
  }

  @Test
  void anAbort_dropsTheChunksStillQueued_andLeavesNothing() throws Exception {
    start(2, dir.resolve("f"));
    pushes.data(2, ByteString.copyFromUtf8("queued"), credited::addAndGet);
    pushes.abort(2);
    runWriter();
    assertThat(credited).hasValue(0);
    assertThat(sent).isEmpty();
    try (Stream<Path> s = Files.list(dir)) {
      assertThat(s.toList()).isEmpty();
    }
  }

  @Test
  void aSessionEnd_keepsWhatWasWritten_forAResume_andDropsWhatWasQueued() throws Exception {
    Path target = dir.resolve("f");
    start(3, target);
    pushes.data(3, ByteString.copyFromUtf8("written"), credited::addAndGet);
    runWriter();
    pushes.data(3, ByteString.copyFromUtf8(" queued"), credited::addAndGet);
    pushes.detachAll().run();
    runWriter();
    assertThat(Files.readString(FilePushes.resumeFile(target))).isEqualTo("written");
    assertThat(credited).hasValue("written".length());
    assertThat(target).doesNotExist();
    assertThat(partsIn(dir)).isEmpty();
  }

  @Test
  void aDigestThatDoesNotMatch_answersOneError_endsTheStream_andLeavesNothing() throws Exception {
    Path target = dir.resolve("f");
    start(4, target);
    pushes.data(4, ByteString.copyFromUtf8("data"), credited::addAndGet);
    pushes.end(4, FileEnd.newBuilder().setSize(4).setSha256(sha("other".getBytes())).build());
    runWriter();
    assertThat(sent).singleElement().satisfies(f -> {
      assertThat(f.getError().getCode()).isEqualTo(StreamError.Code.FAILED_PRECONDITION);
      assertThat(f.getError().getMessage()).contains("is not what was sent");
    });
    assertThat(failures).hasValue(1);
    assertThat(target).doesNotExist();
    assertThat(partsIn(dir)).isEmpty();
    // Data that still comes for the failed push is dropped, not written and not credited.
    pushes.data(4, ByteString.copyFromUtf8("late"), credited::addAndGet);
    runWriter();
    assertThat(credited).hasValue(4);
  }

  @Test
  void onAPoolOfThreads_eightMiBInChunks_arriveWhole_andInOrder() throws Exception {
    ExecutorService pool = Executors.newCachedThreadPool();
    try {
      FilePushes threaded = FilePushes.onWriters(pool);
      byte[] data = new byte[8 << 20];
      new Random(3).nextBytes(data);
      Path target = dir.resolve("big");
      threaded.start(5, FileWriteStart.newBuilder().setPath(target.toString()).build(), sink, failures::incrementAndGet);
      int chunk = GuestFiles.CHUNK;
      for (int off = 0; off < data.length; off += chunk) {
        threaded.data(5, ByteString.copyFrom(data, off, Math.min(chunk, data.length - off)), credited::addAndGet);
      }
      threaded.end(5, FileEnd.newBuilder().setSize(data.length).setSha256(sha(data)).build());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (sent.isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(10); // the writer's FileDone; bounded by the deadline above
      }
      assertThat(sent).singleElement().satisfies(f -> assertThat(f.getFileDone().getSize()).isEqualTo(data.length));
      assertThat(Files.readAllBytes(target)).isEqualTo(data);
      assertThat(credited).hasValue(data.length);
    } finally {
      pool.shutdownNow();
    }
  }
}
