package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The port's reader while no host is there. A plain file stands in for the port: at its end a read
 * finds nothing, as a port's does while no host end is connected.
 */
class PortTransportTest {
  @TempDir Path dir;

  @Test
  void aReaderWaitingForTheHost_isWokenByAWrite_notAtTheEndOfItsWait() throws Exception {
    Path port = Files.createFile(dir.resolve("port"));
    CountDownLatch gone = new CountDownLatch(1);
    // An hour's wait: only the write's wake-up can end the read within the test's bound.
    PortTransport transport = new PortTransport(port, gone::countDown, TimeUnit.HOURS.toMillis(1));
    try (Transport.Connection c = transport.open()) {
      CompletableFuture<Integer> read = CompletableFuture.supplyAsync(() -> {
        try {
          return c.in().read(new byte[16], 0, 16);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      assertThat(gone.await(30, TimeUnit.SECONDS)).as("the reader reported the host gone").isTrue();
      Files.writeString(port, "hi", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
      // A write that completes means a host is there (on a port it blocks until one is). An empty one
      // here: the file's one position is the reader's too.
      c.out().write(new byte[0]);
      assertThat(read.get(30, TimeUnit.SECONDS)).isEqualTo(2);
    }
  }
}
