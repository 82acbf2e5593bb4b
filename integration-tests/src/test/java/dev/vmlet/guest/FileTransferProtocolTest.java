package dev.vmlet.guest;

import dev.vmlet.agent.AgentException;
import dev.vmlet.agent.AgentFiles;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.ExecListener;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import dev.vmlet.common.testing.Poll;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.proto.agent.v1.DirEntry;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.FileInfo;
import java.io.ByteArrayOutputStream;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import org.junit.jupiter.api.Assumptions;

/**
 * File transfer with the real agent and the real daemon link over unix sockets, no VM: the way
 * qemu-guest-agent tests itself. The guest's file system is a temporary directory.
 */
class FileTransferProtocolTest {
  private static final Duration T = Duration.ofSeconds(60);
  @TempDir Path dir;
  private ProtocolHarness h;
  private LinkRelay relay;
  private AgentLink link;
  private Path guest;

  @BeforeEach
  void connect() throws Exception {
    guest = Files.createDirectories(dir.resolve("guest"));
    h = new ProtocolHarness(dir);
    relay = h.relay;
    link = h.link;
  }

  @AfterEach
  void close() throws Exception {
    h.close();
  }

  static String sha256(Path file) throws Exception {
    MessageDigest d = MessageDigest.getInstance("SHA-256");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        d.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(d.digest());
  }

  static FileWriteStart to(Path p) {
    return FileWriteStart.newBuilder().setPath(p.toString()).setMode(0640).setMtimeUnixMs(1_600_000_000_000L).build();
  }

  private void assertNoPartialFiles() throws IOException {
    assertThat(partialFiles()).isEmpty();
  }

  private List<Path> partialFiles() throws IOException {
    try (var s = Files.list(guest)) {
      return s.filter(p -> p.getFileName().toString().endsWith(".vmlet-part")).toList();
    }
  }

  @Test
  void a256MiBRandomFile_goesInAndComesBackWithTheSameDigest_andItsModeAndMtime() throws Exception {
    Path src = dir.resolve("random.bin");
    byte[] block = new byte[1 << 20];
    Random rnd = new Random(42);
    try (OutputStream out = Files.newOutputStream(src)) {
      for (int i = 0; i < 256; i++) {
        rnd.nextBytes(block);
        out.write(block);
      }
    }
    String sha = sha256(src);
    Path inGuest = guest.resolve("random.bin");
    long t0 = System.nanoTime();
    FileDone pushed;
    try (InputStream in = Files.newInputStream(src)) {
      pushed = AgentFiles.push(link, to(inGuest), in, () -> sha, T);
    }
    double pushS = (System.nanoTime() - t0) / 1e9;
    assertThat(pushed.getSha256()).isEqualTo(sha);
    assertThat(pushed.getSize()).isEqualTo(256L << 20);
    assertThat(sha256(inGuest)).isEqualTo(sha);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(inGuest))).isEqualTo("rw-r-----");
    assertThat(Files.getLastModifiedTime(inGuest).toMillis()).isEqualTo(1_600_000_000_000L);

    Path back = dir.resolve("back.bin");
    long t1 = System.nanoTime();
    try (OutputStream out = Files.newOutputStream(back)) {
      FileDone pulled = AgentFiles.pull(link, inGuest.toString(), out, info -> assertThat(info.getMode()).isEqualTo(0640), T);
      assertThat(pulled.getSha256()).isEqualTo(sha);
    }
    double pullS = (System.nanoTime() - t1) / 1e9;
    assertThat(sha256(back)).isEqualTo(sha);
    System.out.printf("256 MiB over the agent link (unix sockets, no VM): push %.0f MB/s, pull %.0f MB/s%n",
        268.435456 / pushS, 268.435456 / pullS);
    assertNoPartialFiles();
  }

  @Test
  void aDigestThatDoesNotMatch_leavesNothingAtTheDestination() throws Exception {
    Path target = guest.resolve("f.txt");
    assertThatThrownBy(() -> AgentFiles.push(link, to(target), new ByteArrayInputStream("hello".getBytes()), () -> "0".repeat(64), T))
        .isInstanceOf(IOException.class).hasMessageContaining("the data changed on its way");
    assertThat(target).doesNotExist();
    // The guest had the file to find the digest wrong: once gone it cannot come back.
    Poll.until("the guest to remove the partial file of a push with a wrong digest", Duration.ofSeconds(10), () -> partialFiles().isEmpty());
  }

  @Test
  void aSourceThatFailsMidway_isCancelled_andLeavesNothing() throws Exception {
    Path target = guest.resolve("f.bin");
    InputStream failing = new InputStream() {
      int n;

      @Override
      public int read() throws IOException {
        if (++n > 200_000) {
          throw new IOException("disk read error");
        }
        return 7;
      }
    };
    assertThatThrownBy(() -> AgentFiles.push(link, to(target), failing, () -> null, T)).hasMessageContaining("disk read error");
    // A fixed wait, not a poll: the guest may not have made the file yet when push fails, so "gone"
    // could be seen before it was ever there; nothing announces that the guest handled the cancel.
    Thread.sleep(200);
    assertThat(target).doesNotExist();
    assertNoPartialFiles();
  }

  @Test
  void aLinkCutInTheMiddleOfAPush_failsClearly_andTheGuestKeepsNothing() throws Exception {
    Path target = guest.resolve("cut.bin");
    InputStream endless = new InputStream() {
      long n;

      @Override
      public int read() {
        return 1;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if ((n += len) > (8 << 20)) {
          relay.cut();
        }
        Arrays.fill(b, off, off + len, (byte) 1);
        return len;
      }
    };
    assertThatThrownBy(() -> AgentFiles.push(link, to(target), endless, () -> null, T)).isInstanceOf(IOException.class);
    Path kept = guest.resolve(".cut.bin.vmlet-resume");
    Poll.until("what arrived to be kept, hidden, for a resume in " + kept, Duration.ofSeconds(5), () -> Files.exists(kept));
    assertThat(target).doesNotExist();
    assertNoPartialFiles();
  }

  @Test
  void pullingWhatIsNotThere_orPushingIntoNoDirectory_failsSayingWhy() {
    assertThatThrownBy(() -> AgentFiles.pull(link, guest.resolve("nope").toString(), OutputStream.nullOutputStream(), i -> { }, T))
        .hasMessageContaining("does not exist").isInstanceOf(AgentException.class);
    assertThatThrownBy(() -> AgentFiles.push(link, to(guest.resolve("no/such/dir/f")), new ByteArrayInputStream(new byte[1]), () -> null, T))
        .hasMessageContaining("does not exist");
    assertThatThrownBy(() -> AgentFiles.pull(link, "relative/path", OutputStream.nullOutputStream(), i -> { }, T))
        .hasMessageContaining("must be absolute");
  }

  @Test
  void anExecStillRuns_whileTransfersComeAndGo() throws Exception {
    Path f = guest.resolve("small.txt");
    AgentFiles.push(link, to(f), new ByteArrayInputStream("x".repeat(100_000).getBytes()), () -> null, T);
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    link.exec(ExecStart.newBuilder().addArgv("true").build(), new ExecListener() {
      @Override
      public void stdout(byte[] data) {}

      @Override
      public void stderr(byte[] data) {}

      @Override
      public void exit(ExecExit e) {
        exit.complete(e.getExitCode());
      }

      @Override
      public void failed(String reason) {
        exit.completeExceptionally(new IOException(reason));
      }
    });
    assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
  }

  @Test
  void aDirectoryTree_isListedParentsFirst_andDirectoriesAreCreatedWithTheirMode() throws Exception {
    Files.createDirectories(guest.resolve("t/x/y"));
    Files.writeString(guest.resolve("t/x/y/f.txt"), "12345");
    Files.createSymbolicLink(guest.resolve("t/l"), Path.of("x"));
    List<DirEntry> entries = link.listDir(guest.resolve("t").toString()).get(10, TimeUnit.SECONDS);
    assertThat(entries).extracting(DirEntry::getPath).containsExactlyInAnyOrder("x", "x/y", "x/y/f.txt", "l");
    assertThat(entries.stream().map(DirEntry::getPath).toList()).containsSubsequence("x", "x/y", "x/y/f.txt");
    assertThat(entries).filteredOn(e -> e.getPath().equals("x/y/f.txt")).singleElement()
        .satisfies(e -> assertThat(e.getSize()).isEqualTo(5));
    assertThat(entries).filteredOn(e -> e.getPath().equals("l")).singleElement()
        .satisfies(e -> assertThat(e.getLinkTarget()).isEqualTo("x"));
    assertThatThrownBy(() -> link.listDir(guest.resolve("nope").toString()).get(10, TimeUnit.SECONDS))
        .hasCauseInstanceOf(AgentException.class).hasMessageContaining("does not exist");

    Path made = guest.resolve("new/deep/dir");
    AgentFiles.push(link, FileWriteStart.newBuilder().setPath(made.toString()).setDirectory(true).setMode(0700).build(),
        InputStream.nullInputStream(), () -> null, T);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(made))).isEqualTo("rwx------");
  }

  @Test
  void aListingOfAThousandsOfEntries_comesInBatches_withinTheWindow() throws Exception {
    Path big = Files.createDirectories(guest.resolve("big"));
    for (int i = 0; i < 5000; i++) {
      Files.createFile(big.resolve("file-with-a-longish-name-" + i));
    }
    assertThat(link.listDir(big.toString()).get(30, TimeUnit.SECONDS)).hasSize(5000);
  }

  @Test
  void aPushCutByTheLink_resumesFromWhatTheGuestKept_andTheWholeFileChecksOut() throws Exception {
    byte[] data = new byte[16 << 20];
    new Random(21).nextBytes(data);
    String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    Path target = guest.resolve("resumed.bin");
    InputStream cutHalfway = new ByteArrayInputStream(data) {
      @Override
      public synchronized int read(byte[] b, int off, int len) {
        if (pos > data.length / 2) {
          try {
            relay.cut();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }
        return super.read(b, off, len);
      }
    };
    assertThatThrownBy(() -> AgentFiles.push(link, to(target), cutHalfway, () -> sha, T)).isInstanceOf(IOException.class);
    Path kept = guest.resolve(".resumed.bin.vmlet-resume");
    Poll.until("what arrived to be kept for a resume in " + kept, Duration.ofSeconds(5), () -> Files.exists(kept));
    assertThat(target).doesNotExist();
    long have = Files.size(kept);
    assertThat(have).isPositive().isLessThan(data.length);

    // A new link (the daemon reconnects), and the same push with resume.
    h.connectLink();
    h.awaitReady();
    link = h.link;
    long[] resumedFrom = {-1};
    FileDone done = AgentFiles.push(link, to(target).toBuilder().setResume(true).build(), new ByteArrayInputStream(data), () -> sha, T,
        n -> resumedFrom[0] = n);
    assertThat(resumedFrom[0]).isEqualTo(have);
    assertThat(done.getSha256()).isEqualTo(sha);
    assertThat(done.getSize()).isEqualTo(data.length);
    assertThat(sha256(target)).isEqualTo(sha);
    assertThat(kept).doesNotExist();
    assertNoPartialFiles();

    // Pulling from an offset: only the rest comes, and done describes the whole file.
    ByteArrayOutputStream tail = new ByteArrayOutputStream();
    FileDone pulled = AgentFiles.pull(link, target.toString(), 1_000_000, tail, i -> { }, T);
    assertThat(tail.toByteArray()).isEqualTo(Arrays.copyOfRange(data, 1_000_000, data.length));
    assertThat(pulled.getSize()).isEqualTo(data.length);
    assertThat(pulled.getSha256()).isEqualTo(sha);
  }

  @Test
  void aPushWithResume_andNothingKept_startsAtZero_andAPlainPushDropsWhatWasKept() throws Exception {
    Path target = guest.resolve("fresh.txt");
    long[] from = {-1};
    AgentFiles.push(link, to(target).toBuilder().setResume(true).build(), new ByteArrayInputStream("abc".getBytes()), () -> null, T,
        n -> from[0] = n);
    assertThat(from[0]).isZero();
    Path stale = guest.resolve(".fresh.txt.vmlet-resume");
    Files.writeString(stale, "old");
    AgentFiles.push(link, to(target), new ByteArrayInputStream("new".getBytes()), () -> null, T);
    assertThat(stale).doesNotExist();
    assertThat(Files.readString(target)).isEqualTo("new");
  }

  @Test
  void anOwnerCanBeSet_whenTheAgentIsRoot_andPullsReportIt() throws Exception {
    Assumptions.assumeTrue(GuestFacts.isRoot(), "needs root");
    Path target = guest.resolve("owned.txt");
    AgentFiles.push(link, to(target).toBuilder().setUid(65534).setGid(65534).build(), new ByteArrayInputStream("x".getBytes()),
        () -> null, T);
    assertThat(Files.getAttribute(target, "unix:uid")).isEqualTo(65534);
    assertThat(Files.getAttribute(target, "unix:gid")).isEqualTo(65534);
    FileInfo[] info = new FileInfo[1];
    AgentFiles.pull(link, target.toString(), OutputStream.nullOutputStream(), i -> info[0] = i, T);
    assertThat(info[0].getUid()).isEqualTo(65534);
    assertThat(link.listDir(guest.toString()).get(10, TimeUnit.SECONDS)).filteredOn(e -> e.getPath().equals("owned.txt"))
        .singleElement().satisfies(e -> assertThat(e.getGid()).isEqualTo(65534));
  }
}
