package dev.vmlet.client;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.FileInfo;
import dev.vmlet.proto.v1.FileTransferResult;
import dev.vmlet.proto.v1.PullFileRequest;
import dev.vmlet.proto.v1.PullFileResponse;
import dev.vmlet.proto.v1.PushFileHeader;
import dev.vmlet.proto.v1.PushFileRequest;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.concurrent.TimeoutException;

/** The client side of PushFile and PullFile, with the SHA-256 computed where the data is. */
public final class FileClient {
  static final int CHUNK = 256 * 1024;
  private static final long DEADLINE_MINUTES = 60;

  private FileClient() {}

  /**
   * Streams {@code in} into the guest and sends its digest last, for the guest to check.
   *
   * @param knownSha256 the source's digest when the caller already has it (it must match the data),
   *     or null to send the digest computed here
   * @param stopAfter cancel the upload after this many bytes (tests of interrupted transfers); -1: never
   * @throws IOException when reading {@code in} fails (the upload is cancelled: the guest keeps nothing)
   * @throws io.grpc.StatusRuntimeException when the daemon or the guest refuses
   */
  public static FileTransferResult push(DaemonClient client, PushFileHeader header, InputStream in, String knownSha256,
      long stopAfter)
      throws IOException, InterruptedException {
    CompletableFuture<FileTransferResult> result = new CompletableFuture<>();
    StreamObserver<PushFileRequest> up = client.vmsAsync().withDeadlineAfter(DEADLINE_MINUTES, TimeUnit.MINUTES)
        .pushFile(new StreamObserver<>() {
          @Override
          public void onNext(FileTransferResult r) {
            result.complete(r);
          }

          @Override
          public void onError(Throwable t) {
            result.completeExceptionally(t);
          }

          @Override
          public void onCompleted() {}
        });
    MessageDigest digest = sha256();
    up.onNext(PushFileRequest.newBuilder().setHeader(header).build());
    byte[] buf = new byte[CHUNK];
    long sent = 0;
    try {
      int n;
      while (!result.isDone() && (n = in.readNBytes(buf, 0, buf.length)) > 0) {
        if (stopAfter >= 0 && sent + n > stopAfter) {
          up.onError(new IOException("cancelled"));
          return null;
        }
        digest.update(buf, 0, n);
        sent += n;
        up.onNext(PushFileRequest.newBuilder().setData(ByteString.copyFrom(buf, 0, n)).build());
      }
    } catch (IOException e) {
      up.onError(e);
      throw e;
    }
    if (!result.isDone()) {
      String sha = knownSha256 != null ? knownSha256 : HexFormat.of().formatHex(digest.digest());
      up.onNext(PushFileRequest.newBuilder().setSha256(sha).build());
      up.onCompleted();
    }
    try {
      return result.get(DEADLINE_MINUTES, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException(e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("the push did not finish within " + DEADLINE_MINUTES + " minutes");
    }
  }

  /**
   * Streams a guest file into {@code out} and checks it against the guest's digest.
   *
   * @param onInfo gets size, mode and mtime before the data
   * @throws IOException when the data does not match the digest (the caller must discard what it wrote)
   */
  public static FileTransferResult pull(DaemonClient client, String vm, String path, OutputStream out,
      Consumer<FileInfo> onInfo) throws IOException {
    Iterator<PullFileResponse> it = client.vms().withDeadlineAfter(DEADLINE_MINUTES, TimeUnit.MINUTES)
        .pullFile(PullFileRequest.newBuilder().setName(vm).setPath(path).build());
    MessageDigest digest = sha256();
    long size = 0;
    while (it.hasNext()) {
      PullFileResponse r = it.next();
      switch (r.getPayloadCase()) {
        case INFO -> onInfo.accept(r.getInfo());
        case DATA -> {
          r.getData().writeTo(out);
          digest.update(r.getData().asReadOnlyByteBuffer());
          size += r.getData().size();
        }
        case DONE -> {
          String sha = HexFormat.of().formatHex(digest.digest());
          if (r.getDone().getSize() != size || !r.getDone().getSha256().equals(sha)) {
            throw new IOException("the file arrived damaged (" + size + " bytes, sha256 " + sha + "; the guest sent "
                + r.getDone().getSize() + " bytes, sha256 " + r.getDone().getSha256() + ")");
          }
          return r.getDone();
        }
        default -> { }
      }
    }
    throw new IOException("the transfer ended without its digest");
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
