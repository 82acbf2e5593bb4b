package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.CompletableFuture;

/**
 * One file push into the guest, fed by its caller piece by piece: {@link #write} waits for the
 * guest's credit, {@link #tryWrite} takes only what the credit allows now and never waits (the
 * caller tries again when told of more credit). The data is digested on its way, and {@link #end}
 * checks that digest against the source's before the guest may rename the file into place; a
 * cancelled or failed push leaves nothing at the destination.
 *
 * <p>One caller thread at a time feeds a push; the results complete on the link's reader thread.
 */
public final class GuestPush {
  /** The most data one frame carries. */
  public static final int CHUNK = 32 * 1024;

  private final AgentLink link;
  private final int stream;
  private final String path;
  private final CompletableFuture<FileDone> result = new CompletableFuture<>();
  private final CompletableFuture<Long> kept = new CompletableFuture<>();
  private final MessageDigest digest = sha256();
  private long size;

  private GuestPush(AgentLink link, FileWriteStart start, Runnable onCredit) throws IOException {
    this.link = link;
    this.path = start.getPath();
    this.stream = link.openPush(start, AgentFiles.listener(result, null, null, false, kept::complete, onCredit));
  }

  /**
   * Opens a push of {@code start.path}.
   *
   * @param onCredit called on the link's reader thread whenever the guest grants more credit; must
   *     not block
   */
  public static GuestPush open(AgentLink link, FileWriteStart start, Runnable onCredit) throws IOException {
    return new GuestPush(link, start, onCredit);
  }

  /** The guest's answer: FileDone once the file is in place, or why not. */
  public CompletableFuture<FileDone> result() {
    return result;
  }

  /** A push with {@code resume}: how many bytes of an earlier push the guest kept. */
  public CompletableFuture<Long> kept() {
    return kept;
  }

  /** Bytes taken so far: sent, plus skipped ones the guest had kept. */
  public long size() {
    return size;
  }

  /** Counts bytes the guest has already (it kept them from an earlier push): digested, not sent. */
  public void skip(byte[] b, int off, int len) {
    digest.update(b, off, len);
    size += len;
  }

  /** Sends all of {@code b[off, off+len)}, waiting for the guest's credit as needed. */
  public void write(byte[] b, int off, int len) throws IOException {
    for (int at = off; at < off + len; at += CHUNK) {
      int n = Math.min(CHUNK, off + len - at);
      try {
        link.pushData(stream, b, at, n);
      } catch (IOException e) {
        throw guestsReasonOr(e);
      }
      skip(b, at, n);
    }
  }

  /**
   * Sends as much of {@code b[off, off+len)} as the guest's credit allows now, in whole frames.
   *
   * @return how many bytes were taken (0 when the window is full)
   */
  public int tryWrite(byte[] b, int off, int len) throws IOException {
    int at = off;
    while (at < off + len) {
      int n = Math.min(CHUNK, off + len - at);
      try {
        if (!link.tryPushData(stream, b, at, n)) {
          break;
        }
      } catch (IOException e) {
        throw guestsReasonOr(e);
      }
      skip(b, at, n);
      at += n;
    }
    return at - off;
  }

  /**
   * Ends the push: checks the digest of everything taken against {@code expectedSha256} (the
   * source's), then lets the guest check size and digest and rename.
   *
   * @param expectedSha256 the source's digest, or null to trust what was read here
   * @return the guest's answer; failed, with the guest told to drop the push, when the data changed
   */
  public CompletableFuture<FileDone> end(String expectedSha256) {
    String sha = HexFormat.of().formatHex(digest.digest());
    if (expectedSha256 != null && !expectedSha256.equals(sha)) {
      link.cancel(stream, "corrupted on the way");
      return CompletableFuture.failedFuture(new IOException("the data changed on its way (sha256 " + sha + ", the source's "
          + expectedSha256 + "); nothing was written"));
    }
    if (!result.isDone()) {
      try {
        link.pushEnd(stream, size, sha);
      } catch (IOException e) {
        result.completeExceptionally(new IOException("cannot end the push to " + path + ": " + e.getMessage(), e));
      }
    }
    return result;
  }

  /** Tells the guest to drop the push (it deletes what it wrote); the result fails with {@code reason}. */
  public void cancel(String reason) {
    link.cancel(stream, reason);
    result.completeExceptionally(new IOException(reason));
  }

  /** The guest's own reason when it ended the push first (not "the stream has ended"). */
  private IOException guestsReasonOr(IOException e) {
    if (result.isCompletedExceptionally()) {
      try {
        result.join();
      } catch (RuntimeException failed) {
        if (failed.getCause() instanceof IOException io) {
          return io;
        }
      }
    }
    return e;
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
