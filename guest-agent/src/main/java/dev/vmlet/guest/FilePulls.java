package dev.vmlet.guest;

import com.google.protobuf.UnsafeByteOperations;
import dev.vmlet.common.files.FileModes;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.FileData;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileInfo;
import dev.vmlet.proto.agent.v1.FileReadStart;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * File pulls on the agent's side: FileInfo, the data in chunks within the stream's send window,
 * then FileDone with the whole file's size and SHA-256 (so the host can check it end to end, also
 * when it resumed from an offset); or one StreamError.
 */
final class FilePulls {
  private FilePulls() {}

  /** Sends a file. Blocking: run off the reader thread. */
  static void pull(int stream, FileReadStart req, FrameSink sink, SendWindow window) {
    try {
      Path file = GuestFiles.absolute(req.getPath());
      if (!Files.exists(file)) {
        throw new NoSuchFileException(file.toString());
      }
      if (!Files.isRegularFile(file)) {
        throw new IOException(file + " is not a regular file");
      }
      int mode;
      try {
        mode = FileModes.bits(Files.getPosixFilePermissions(file));
      } catch (UnsupportedOperationException e) {
        mode = 0644;
      }
      int[] owner = GuestFiles.owner(file);
      sink.send(Frame.newBuilder().setStreamId(stream).setFileInfo(FileInfo.newBuilder().setSize(Files.size(file))
          .setMode(mode).setMtimeUnixMs(Files.getLastModifiedTime(file).toMillis()).setUid(owner[0]).setGid(owner[1])).build());
      MessageDigest digest = GuestFiles.sha256();
      long size = 0;
      byte[] buf = new byte[GuestFiles.CHUNK];
      try (InputStream in = Files.newInputStream(file)) {
        // Resuming: the host has the first `offset` bytes; they count in the digest, unsent.
        while (size < req.getOffset()) {
          int n = in.readNBytes(buf, 0, (int) Math.min(buf.length, req.getOffset() - size));
          if (n <= 0) {
            throw new IllegalArgumentException("offset " + req.getOffset() + " is past the end of " + file + " (" + size + " bytes)");
          }
          digest.update(buf, 0, n);
          size += n;
        }
        int n;
        while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
          digest.update(buf, 0, n);
          size += n;
          window.acquire(n);
          // Not copied: send encodes the frame before it returns, and buf is refilled only after.
          sink.send(Frame.newBuilder().setStreamId(stream)
              .setFileData(FileData.newBuilder().setData(UnsafeByteOperations.unsafeWrap(buf, 0, n))).build());
        }
      }
      sink.send(Frame.newBuilder().setStreamId(stream)
          .setFileDone(FileDone.newBuilder().setSize(size).setSha256(HexFormat.of().formatHex(digest.digest()))).build());
    } catch (IOException | RuntimeException e) {
      sink.sendOrLog(GuestFiles.error(stream, e));
    }
  }
}
