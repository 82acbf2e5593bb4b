package dev.vmlet.agent;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.vmlet.proto.agent.v1.ExecCancel;
import dev.vmlet.proto.agent.v1.ExecInput;
import dev.vmlet.proto.agent.v1.ExecResize;
import dev.vmlet.proto.agent.v1.FileData;
import dev.vmlet.proto.agent.v1.FileEnd;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;

/**
 * What the host sends on a stream it opened: a program's stdin, resize and cancel; a push's data
 * and end. Data takes the stream's credit first, so a sender never puts more on the link than the
 * guest granted ({@link dev.vmlet.common.flow.SendWindow#INITIAL} per stream).
 */
final class StreamSends {
  private final LinkStreams streams;
  private final LinkStreams.Sender link;

  StreamSends(LinkStreams streams, LinkStreams.Sender link) {
    this.streams = streams;
    this.link = link;
  }

  /** Blocks while the stream's window is full; an empty {@code eof} needs no credit. */
  void execInput(int stream, byte[] data, int off, int len, boolean eof) throws IOException {
    LinkStreams.Stream s = streams.require(stream);
    if (len > 0) {
      s.send().acquire(len);
    }
    link.send(Frame.newBuilder().setStreamId(stream)
        .setExecInput(ExecInput.newBuilder().setData(ByteString.copyFrom(data, off, len)).setEof(eof)).build());
  }

  /** Nothing is sent on a stream that has ended already. */
  void execResize(int stream, int rows, int cols) throws IOException {
    if (streams.contains(stream)) {
      link.send(Frame.newBuilder().setStreamId(stream).setExecResize(ExecResize.newBuilder().setRows(rows).setCols(cols)).build());
    }
  }

  /** Nothing is sent on a stream that has ended already. */
  void execCancel(int stream) throws IOException {
    if (streams.contains(stream)) {
      link.send(Frame.newBuilder().setStreamId(stream).setExecCancel(ExecCancel.getDefaultInstance()).build());
    }
  }

  void pushData(int stream, byte[] data, int off, int len) throws IOException {
    streams.require(stream).send().acquire(len);
    sendData(stream, data, off, len);
  }

  boolean tryPushData(int stream, byte[] data, int off, int len) throws IOException {
    if (!streams.require(stream).send().tryAcquire(len)) {
      return false;
    }
    sendData(stream, data, off, len);
    return true;
  }

  private void sendData(int stream, byte[] data, int off, int len) throws IOException {
    // Not copied: send encodes the frame before it returns, so the caller's array is read only
    // while this call lasts.
    link.send(Frame.newBuilder().setStreamId(stream)
        .setFileData(FileData.newBuilder().setData(UnsafeByteOperations.unsafeWrap(data, off, len))).build());
  }

  void pushEnd(int stream, long size, String sha256) throws IOException {
    link.send(Frame.newBuilder().setStreamId(stream).setFileEnd(FileEnd.newBuilder().setSize(size).setSha256(sha256)).build());
  }
}
