package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A push's file holds exactly the bytes taken, in order, and its digest covers them, whether it is
 * written with O_DIRECT (in aligned pieces of 256 KiB, the last one padded and cut back) or
 * through the page cache; a resumed push continues what its file held.
 */
class PushFileTest {
  @TempDir Path dir;

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  private static String hex(byte[] digest) {
    return HexFormat.of().formatHex(digest);
  }

  private static String sha(byte[] data) throws Exception {
    return hex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  /** Writes {@code data} in frame-sized chunks (which do not divide the 256 KiB buffer) and completes the file. */
  private static void writeInChunks(PushFile f, byte[] data) throws Exception {
    for (int off = 0; off < data.length; off += GuestFiles.CHUNK) {
      f.write(ByteString.copyFrom(data, off, Math.min(GuestFiles.CHUNK, data.length - off)));
    }
    f.complete();
  }

  @Test
  void withODirect_chunksAcrossSeveralBuffers_andAnUnalignedTail_areWrittenWhole() throws Exception {
    byte[] data = random(3 * PushFile.BATCH + 5 * PushFile.ALIGN + 123);
    Path temp = Files.createFile(dir.resolve("direct"));
    MessageDigest digest = GuestFiles.sha256();
    PushFile f = PushFile.open(temp, digest, true);
    assertThat(f.direct()).as("O_DIRECT on the test's directory (ext4 here; tmpfs before Linux 6.6 refuses it)").isTrue();
    writeInChunks(f, data);
    assertThat(f.size()).isEqualTo(data.length);
    assertThat(Files.size(temp)).isEqualTo(data.length); // the padding of the last piece cut back
    assertThat(Files.readAllBytes(temp)).isEqualTo(data);
    assertThat(hex(digest.digest())).isEqualTo(sha(data));
  }

  @Test
  void withODirect_aFileSmallerThanOnePage_isPaddedThenCut() throws Exception {
    byte[] data = "seven b".getBytes();
    Path temp = Files.createFile(dir.resolve("small"));
    PushFile f = PushFile.open(temp, GuestFiles.sha256(), true);
    assertThat(f.direct()).isTrue();
    f.write(ByteString.copyFrom(data));
    assertThat(Files.size(temp)).as("nothing written before the buffer fills or the push ends").isZero();
    f.complete();
    assertThat(Files.readAllBytes(temp)).isEqualTo(data);
  }

  @Test
  void withODirect_anEmptyPush_leavesAnEmptyFile() throws Exception {
    Path temp = Files.createFile(dir.resolve("empty"));
    MessageDigest digest = GuestFiles.sha256();
    PushFile.open(temp, digest, true).complete();
    assertThat(Files.size(temp)).isZero();
    assertThat(hex(digest.digest())).isEqualTo(sha(new byte[0]));
  }

  @Test
  void throughThePageCache_whenNotAskedForODirect_theSameBytes() throws Exception {
    byte[] data = random(PushFile.BATCH + 77);
    Path temp = Files.createFile(dir.resolve("buffered"));
    MessageDigest digest = GuestFiles.sha256();
    PushFile f = PushFile.open(temp, digest, false);
    assertThat(f.direct()).isFalse();
    f.write(ByteString.copyFrom(data, 0, 10));
    assertThat(Files.size(temp)).as("through the page cache each chunk is in the file at once").isEqualTo(10);
    f.write(ByteString.copyFrom(data, 10, data.length - 10));
    f.complete();
    assertThat(Files.readAllBytes(temp)).isEqualTo(data);
    assertThat(hex(digest.digest())).isEqualTo(sha(data));
  }

  @Test
  void aResumedPush_continuesItsFile_throughThePageCache_andTheDigestCoversBothParts() throws Exception {
    byte[] data = random(2 * PushFile.ALIGN + 9);
    int kept = PushFile.ALIGN + 1; // an unaligned end: O_DIRECT could not append there
    Path temp = Files.write(dir.resolve("resumed"), Arrays.copyOf(data, kept));
    MessageDigest digest = GuestFiles.sha256();
    PushFile f = PushFile.open(temp, digest, true);
    assertThat(f.direct()).isFalse();
    assertThat(f.size()).isEqualTo(kept);
    f.write(ByteString.copyFrom(data, kept, data.length - kept));
    f.complete();
    assertThat(Files.readAllBytes(temp)).isEqualTo(data);
    assertThat(hex(digest.digest())).isEqualTo(sha(data));
  }

  @Test
  void aWriteRefusedAfterTheOpen_goesOnThroughThePageCache_fromTheSameOffset() throws Exception {
    byte[] data = random(3 * PushFile.BATCH + 999);
    Path temp = Files.createFile(dir.resolve("refused"));
    MessageDigest digest = GuestFiles.sha256();
    // The first O_DIRECT write goes through, the second is refused halfway, as a file system that
    // accepts the open and not the write would.
    int[] good = {1};
    PushFile f = PushFile.open(temp, digest, true, (file, src, at) -> {
      if (good[0]-- > 0) {
        return file.write(src, at);
      }
      ByteBuffer half = src.duplicate();
      half.limit(src.position() + PushFile.ALIGN);
      src.position(src.position() + file.write(half, at));
      throw new IOException("Invalid argument");
    });
    assertThat(f.direct()).isTrue();
    writeInChunks(f, data);
    assertThat(f.direct()).isFalse();
    assertThat(Files.readAllBytes(temp)).isEqualTo(data);
    assertThat(hex(digest.digest())).isEqualTo(sha(data));
  }

  @Test
  void aRefusedWrite_whoseFileIsGone_failsThePush() throws Exception {
    Path temp = Files.createFile(dir.resolve("gone"));
    PushFile f = PushFile.open(temp, GuestFiles.sha256(), true, (file, src, at) -> {
      Files.delete(temp); // refused, and the page cache's way finds no file either
      throw new IOException("Invalid argument");
    });
    assertThatThrownBy(() -> f.write(ByteString.copyFrom(random(PushFile.BATCH)))).isInstanceOf(NoSuchFileException.class);
    f.close(); // as the push's end does after a failure
    // The fallback opens the file without creating it: a push whose file vanished leaves none behind.
    assertThat(temp).doesNotExist();
  }

  @Test
  void closedWithoutCompleting_whatTheBufferHeldIsNotWritten() throws Exception {
    Path temp = Files.createFile(dir.resolve("dropped"));
    PushFile f = PushFile.open(temp, GuestFiles.sha256(), true);
    f.write(ByteString.copyFrom(random(1000)));
    f.close();
    assertThat(Files.size(temp)).isZero();
  }
}
