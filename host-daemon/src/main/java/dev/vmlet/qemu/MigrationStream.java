package dev.vmlet.qemu;

import com.google.gson.JsonObject;
import dev.vmlet.fs.UnixSockets;
import dev.vmlet.qmp.QmpClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A VM's whole machine state (memory and devices) saved to a file and loaded from it with QEMU's
 * migration, over a unix socket the daemon holds the other end of: QEMU runs with {@code
 * -sandbox spawn=deny}, so {@code exec:} migration is not possible, and QEMU 7.2 has no {@code
 * file:} transport. Saving writes a temporary file renamed into place only when QEMU reports the
 * migration completed, so a failed save leaves no partial file.
 */
public final class MigrationStream {
  /** QEMU 7.2 throttles migration to 32 MiB/s by default; a paused VM has no downtime to protect. */
  private static final long BANDWIDTH = 8L << 30;
  private static final Duration POLL = Duration.ofMillis(20);

  private MigrationStream() {}

  /**
   * Saves the state of a paused VM into {@code out}.
   *
   * @param user QEMU's user when it is not the daemon's (it must connect to the socket), else null
   * @return the bytes written
   */
  public static long save(QmpClient qmp, Path socket, Path out, QemuUser user, Duration bound) throws IOException {
    Files.deleteIfExists(socket);
    Path tmp = out.resolveSibling("." + out.getFileName() + ".tmp");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(socket));
      if (user != null) {
        user.handOver(socket);
      }
      CompletableFuture<Long> copy = CompletableFuture.supplyAsync(() -> {
        try (SocketChannel in = server.accept();
            // 0600: the stream holds the guest's RAM (or its device state).
            FileChannel file = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
          long n = Channels.newInputStream(in).transferTo(Channels.newOutputStream(file));
          file.force(true);
          return n;
        } catch (IOException e) {
          throw new IllegalStateException(e.getMessage(), e);
        }
      });
      JsonObject params = new JsonObject();
      params.addProperty("max-bandwidth", BANDWIDTH);
      qmp.execute("migrate-set-parameters", params, Duration.ofSeconds(5));
      JsonObject args = new JsonObject();
      args.addProperty("uri", "unix:" + socket);
      qmp.execute("migrate", args, Duration.ofSeconds(10));
      awaitCompleted(qmp, bound, "saving the VM's state");
      long bytes = join(copy, Duration.ofSeconds(30));
      Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      return bytes;
    } finally {
      Files.deleteIfExists(tmp);
      Files.deleteIfExists(socket);
    }
  }

  /**
   * Feeds {@code in} to a QEMU started with {@code -incoming defer} and waits until it has loaded
   * it; QEMU then runs the guest (it was not started with -S).
   */
  public static void load(QmpClient qmp, Path socket, Path in, Duration bound) throws IOException {
    Files.deleteIfExists(socket);
    JsonObject args = new JsonObject();
    args.addProperty("uri", "unix:" + socket);
    qmp.execute("migrate-incoming", args, Duration.ofSeconds(10));
    try (var s = UnixSockets.connect(socket, Duration.ofSeconds(10));
        InputStream file = Files.newInputStream(in);
        OutputStream o = s.getOutputStream()) {
      file.transferTo(o);
    }
    awaitCompleted(qmp, bound, "loading the template's state");
  }

  private static void awaitCompleted(QmpClient qmp, Duration bound, String what) throws IOException {
    long deadline = System.nanoTime() + bound.toNanos();
    while (true) {
      JsonObject info = qmp.execute("query-migrate", null, Duration.ofSeconds(5)).getAsJsonObject();
      String status = info.has("status") ? info.get("status").getAsString() : "none";
      switch (status) {
        case "completed" -> {
          return;
        }
        case "failed", "cancelled" -> throw new IOException(what + " failed: QEMU reports migration " + status
            + (info.has("error-desc") ? " (" + info.get("error-desc").getAsString() + ")" : ""));
        default -> { }
      }
      if (System.nanoTime() > deadline) {
        throw new IOException(what + " did not complete within " + bound.toSeconds() + " s (migration " + status + ")");
      }
      try {
        Thread.sleep(POLL.toMillis()); // QEMU has no event for an incoming migration's end that QMP clients can wait on here
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while " + what, e);
      }
    }
  }

  private static long join(CompletableFuture<Long> copy, Duration bound) throws IOException {
    try {
      return copy.get(bound.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IOException("cannot write the VM's state: " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      copy.cancel(true);
      throw new IOException("QEMU did not close the state stream within " + bound.toSeconds() + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while writing the VM's state", e);
    }
  }
}
