package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A pulled file is read whole and in order into direct buffers as large as the file, at most 256 KiB each. */
class PullFileTest {
  @TempDir Path dir;

  @ParameterizedTest(name = "{0} bytes")
  @ValueSource(ints = {0, 1, 4096, 4097, 3 * 256 * 1024, 3 * 256 * 1024 + 5000})
  void theWholeFile_inOrder(int size) throws Exception {
    byte[] b = new byte[size];
    new Random(size).nextBytes(b);
    Path f = Files.write(dir.resolve("f"), b);
    ByteBuffer buf = PullFile.buffer(size);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    try (PullFile in = PullFile.open(f)) {
      int n;
      while ((n = in.read(buf.clear())) > 0) {
        byte[] piece = new byte[n];
        buf.flip().get(piece);
        all.writeBytes(piece);
      }
    }
    assertThat(all.toByteArray()).isEqualTo(b);
  }

  @Test
  void buffers_areDirect_asLargeAsTheFile_andAtMost256KiB() {
    assertThat(PullFile.buffer(0).capacity()).isEqualTo(1);
    assertThat(PullFile.buffer(4097).capacity()).isEqualTo(4097);
    assertThat(PullFile.buffer(1L << 40).capacity()).isEqualTo(256 * 1024);
    assertThat(PullFile.buffer(10_000).isDirect()).isTrue();
  }
}
