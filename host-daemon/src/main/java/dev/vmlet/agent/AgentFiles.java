package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileInfo;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import dev.vmlet.proto.agent.v1.StreamError;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

/** Blocking file pushes and pulls over an {@link AgentLink}, each checked with SHA-256 end to end. */
public final class AgentFiles {
  public static final int CHUNK = GuestPush.CHUNK;

  private AgentFiles() {}

  /**
   * Pushes all of {@code in} to the guest.
   *
   * @param expectedSha256 asked once all data is read: the digest it must have (the source's, from
   *     whoever read it), or null to use the digest of what was read here
   * @param timeout for the guest's answer after the last byte was sent
   * @throws IOException when the link fails, the guest refuses, or the digests differ; the guest
   *     then has nothing at the destination
   */
  public static FileDone push(AgentLink link, FileWriteStart start, InputStream in,
      Supplier<String> expectedSha256, Duration timeout) throws IOException {
    return push(link, start, in, expectedSha256, timeout, offset -> { });
  }

  /**
   * {@link #push}, and with {@code start.resume} the guest's kept bytes are not sent again: that
   * many bytes of {@code in} are read and digested only ({@code onResumed} gets the count).
   */
  public static FileDone push(AgentLink link, FileWriteStart start, InputStream in,
      Supplier<String> expectedSha256, Duration timeout, LongConsumer onResumed)
      throws IOException {
    GuestPush push = GuestPush.open(link, start, () -> { });
    byte[] buf = new byte[CHUNK];
    try {
      if (start.getResume()) {
        long skip = awaitOffset(push.kept(), push.result(), timeout);
        while (push.size() < skip) {
          int n = in.readNBytes(buf, 0, (int) Math.min(buf.length, skip - push.size()));
          if (n <= 0) {
            push.cancel("the source is shorter than what the guest kept");
            throw new IOException("the guest kept " + skip + " bytes of an earlier push, but the source has only "
                + push.size() + "; push it again without resume");
          }
          push.skip(buf, 0, n);
        }
        onResumed.accept(skip);
      }
      int n;
      while ((n = in.readNBytes(buf, 0, buf.length)) > 0 && !push.result().isDone()) {
        push.write(buf, 0, n);
      }
    } catch (IOException e) {
      if (!push.result().isCompletedExceptionally()) {
        push.cancel("the source failed: " + e.getMessage());
      }
      throw e;
    }
    return await(push.end(expectedSha256.get()), timeout, "push to " + start.getPath());
  }

  /**
   * Pulls a guest file into {@code out} and checks the data against the digest the guest sent.
   *
   * @param onInfo gets the file's size, mode and mtime before any data
   */
  public static FileDone pull(AgentLink link, String path, OutputStream out, Consumer<FileInfo> onInfo, Duration timeout)
      throws IOException {
    return pull(link, path, 0, out, onInfo, timeout);
  }

  /**
   * Pulls a guest file from {@code offset} on. With an offset the guest's digest covers the whole
   * file, so only the size is checked here; the caller, who has the first part, checks the digest.
   */
  public static FileDone pull(AgentLink link, String path, long offset, OutputStream out, Consumer<FileInfo> onInfo,
      Duration timeout) throws IOException {
    CompletableFuture<FileDone> result = new CompletableFuture<>();
    MessageDigest digest = GuestPush.sha256();
    long size = 0;
    // The link's reader only queues (at most a window's worth): writing to `out` may wait for a
    // slow client, and that must hold back this stream alone, through its credit.
    BlockingQueue<byte[]> chunks = new LinkedBlockingQueue<>();
    int stream = link.pull(path, offset, listener(result, onInfo, chunks::add, true, n -> { }, () -> { }));
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (!(result.isDone() && chunks.isEmpty())) {
        byte[] data = chunks.poll(50, TimeUnit.MILLISECONDS);
        if (data == null) {
          if (System.nanoTime() > deadline) {
            link.cancel(stream, "timed out");
            break;
          }
          continue;
        }
        deadline = System.nanoTime() + timeout.toNanos();
        digest.update(data);
        size += data.length;
        try {
          out.write(data);
        } catch (IOException e) {
          link.cancel(stream, "the destination failed: " + e.getMessage());
          throw e;
        }
        link.consumed(stream, data.length);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      link.cancel(stream, "interrupted");
      throw new IOException("interrupted during the pull of " + path);
    }
    FileDone done = await(result, Duration.ZERO.plusMillis(1), "pull of " + path);
    String sha = HexFormat.of().formatHex(digest.digest());
    if (offset > 0 && done.getSize() == offset + size) {
      return done;
    }
    if (done.getSize() != size || !done.getSha256().equals(sha)) {
      throw new IOException("the data of " + path + " arrived damaged (" + size + " bytes, sha256 " + sha + "; the guest sent "
          + done.getSize() + " bytes, sha256 " + done.getSha256() + ")");
    }
    return done;
  }

  /** The guest's FileOffset, or its failure if it failed first. */
  private static long awaitOffset(CompletableFuture<Long> kept, CompletableFuture<FileDone> result, Duration timeout)
      throws IOException {
    try {
      CompletableFuture.anyOf(kept, result).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      // the push failed first: reported below
    } catch (TimeoutException e) {
      throw new IOException("the guest did not say where to resume within " + timeout.toSeconds() + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
    if (kept.isDone()) {
      return kept.join();
    }
    await(result, Duration.ofMillis(1), "push");
    throw new IOException("the guest ended the push before saying where to resume");
  }

  interface DataSink {
    void accept(byte[] data) throws IOException;
  }

  /**
   * A transfer's answers into futures: {@code result} completes with FileDone or the failure
   * (an {@link AgentException} when the agent gave a code).
   */
  static TransferListener listener(CompletableFuture<FileDone> result, Consumer<FileInfo> onInfo, DataSink sink,
      boolean returnsCredit, LongConsumer onOffset, Runnable onCredit) {
    return new TransferListener() {
      @Override
      public void offset(long offset) {
        onOffset.accept(offset);
      }

      @Override
      public void credited() {
        onCredit.run();
      }

      @Override
      public boolean returnsCredit() {
        return returnsCredit;
      }

      @Override
      public void info(FileInfo info) {
        if (onInfo != null) {
          onInfo.accept(info);
        }
      }

      @Override
      public void data(byte[] data) {
        if (sink != null && !result.isDone()) {
          try {
            sink.accept(data);
          } catch (IOException e) {
            result.completeExceptionally(e);
          }
        }
      }

      @Override
      public void done(FileDone done) {
        result.complete(done);
      }

      @Override
      public void failed(String reason) {
        result.completeExceptionally(new IOException(reason));
      }

      @Override
      public void failed(StreamError error) {
        result.completeExceptionally(new AgentException(error));
      }
    };
  }

  private static FileDone await(CompletableFuture<FileDone> result, Duration timeout, String what) throws IOException {
    try {
      return result.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("the guest did not finish the " + what + " within " + timeout.toSeconds() + " s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted during the " + what);
    }
  }

}
