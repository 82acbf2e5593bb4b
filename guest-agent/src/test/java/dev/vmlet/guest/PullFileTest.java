package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pulled file is read whole and in order into page-aligned buffers, with O_DIRECT or through the
 * page cache; a file's unaligned end leaves O_DIRECT for the page cache, which reads it.
 */
class PullFileTest {
  @TempDir Path dir;

  private Path file(int size) throws Exception {
    byte[] b = new byte[size];
    new Random(size).nextBytes(b);
    return Files.write(dir.resolve("f" + size), b);
  }

  private static byte[] readAll(PullFile in, ByteBuffer buf) throws Exception {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    int n;
    while ((n = in.read(buf.clear())) > 0) {
      byte[] b = new byte[n];
      buf.flip().get(b);
      all.writeBytes(b);
    }
    return all.toByteArray();
  }

  @ParameterizedTest(name = "{0} bytes")
  @ValueSource(ints = {0, 1, 4096, 4097, 3 * 256 * 1024, 3 * 256 * 1024 + 5000})
  void withODirect_theWholeFile_inOrder(int size) throws Exception {
    Path f = file(size);
    try (PullFile in = PullFile.open(f, true)) {
      assertThat(in.direct()).as("O_DIRECT on the test's directory (ext4 here)").isTrue();
      assertThat(readAll(in, PullFile.buffer(size))).isEqualTo(Files.readAllBytes(f));
      assertThat(in.direct()).as("still O_DIRECT after the end unless the end was unaligned").isEqualTo(size % PushFile.ALIGN == 0);
    }
  }

  @Test
  void throughThePageCache_whenNotAskedForODirect() throws Exception {
    Path f = file(PushFile.BATCH + 77);
    try (PullFile in = PullFile.open(f, false)) {
      assertThat(in.direct()).isFalse();
      assertThat(readAll(in, PullFile.buffer(Files.size(f)))).isEqualTo(Files.readAllBytes(f));
    }
  }

  @Test
  void buffers_areWholePages_aligned_andAtMostOneBatch() {
    assertThat(PullFile.buffer(0).capacity()).isEqualTo(PushFile.ALIGN);
    assertThat(PullFile.buffer(4097).capacity()).isEqualTo(2 * PushFile.ALIGN);
    assertThat(PullFile.buffer(1L << 40).capacity()).isEqualTo(PushFile.BATCH);
    ByteBuffer b = PullFile.buffer(10_000);
    assertThat(b.isDirect()).isTrue();
    assertThat(b.alignmentOffset(0, PushFile.ALIGN)).isZero();
  }
}
