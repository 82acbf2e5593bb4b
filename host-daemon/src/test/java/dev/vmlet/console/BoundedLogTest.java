package dev.vmlet.console;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BoundedLogTest {
  @TempDir Path dir;

  @Test
  void pastTheLimit_theLogRollsOverOnce_andNeverHoldsMoreThanTwoFiles() throws Exception {
    Path file = dir.resolve("console.log");
    try (BoundedLog log = new BoundedLog(file, 100)) {
      for (int i = 0; i < 50; i++) {
        byte[] line = String.format("line %02d xxxxxxxxxx\n", i).getBytes(); // 19 bytes
        log.append(line, 0, line.length);
      }
    }
    assertThat(Files.size(file)).isLessThanOrEqualTo(100);
    assertThat(Files.size(dir.resolve("console.log.1"))).isLessThanOrEqualTo(100);
    assertThat(Files.readString(file)).endsWith("line 49 xxxxxxxxxx\n");
    try (var files = Files.list(dir)) {
      assertThat(files).hasSize(2);
    }
  }

  @Test
  void reopening_appendsToWhatIsThere() throws Exception {
    Path file = dir.resolve("c.log");
    try (BoundedLog log = new BoundedLog(file, 1000)) {
      log.append("a\n".getBytes(), 0, 2);
    }
    try (BoundedLog log = new BoundedLog(file, 1000)) {
      log.append("b\n".getBytes(), 0, 2);
    }
    assertThat(Files.readString(file)).isEqualTo("a\nb\n");
  }
}
