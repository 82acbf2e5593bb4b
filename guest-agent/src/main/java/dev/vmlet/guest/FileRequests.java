package dev.vmlet.guest;

import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.DirListRequest;
import dev.vmlet.proto.agent.v1.FileReadStart;
import dev.vmlet.proto.agent.v1.Frame;
import java.nio.file.Path;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;

/**
 * The file frames from the host, each checked against the policy's paths first: a push
 * (FileWriteStart, FileData, FileEnd) is written on a worker ({@link FilePushes}), its data counted
 * against the stream's receive window and granted back once on disk; a pull (FileReadStart) and a
 * listing (DirListRequest) run on a worker within the stream's send window.
 */
final class FileRequests {
  private final Streams streams;
  private final FilePushes pushes;
  /** Where a pull reads its file (null: on its own worker, in turn with sending; one vCPU). */
  private final Executor pullReaders;

  /** When the read that brought the frame being handled returned (System.nanoTime), for {@link HopTrace}. */
  private final LongSupplier readNanos;

  FileRequests(Streams streams, FilePushes pushes, LongSupplier readNanos) {
    this.streams = streams;
    this.pushes = pushes;
    this.pullReaders = Runtime.getRuntime().availableProcessors() > 1 ? streams::submit : null;
    this.readNanos = readNanos;
  }

  void writeStart(Frame f) {
    int id = f.getStreamId();
    if (streams.allowed(id, Policy.Operation.FILE_WRITE, pathOf(f.getFileWriteStart().getPath()))) {
      Streams.AgentStream s = streams.open(id);
      pushes.start(id, f.getFileWriteStart(), s.sink, () -> streams.remove(id, s));
      if (!pushes.isOpen(id)) {
        streams.remove(id);
      }
    }
  }

  void data(Frame f) {
    int id = f.getStreamId();
    Streams.AgentStream s = streams.get(id);
    if (s == null) {
      return;
    }
    int n = f.getFileData().getData().size();
    if (!s.receive.received(n)) {
      streams.overrun(id, s);
      return;
    }
    pushes.data(id, f.getFileData().getData(), written -> streams.consumed(id, s, written));
  }

  void end(Frame f) {
    int id = f.getStreamId();
    pushes.end(id, f.getFileEnd());
    streams.remove(id);
  }

  void readStart(Frame f) {
    FileReadStart req = f.getFileReadStart();
    readOnWorker(f.getStreamId(), "pull", req.getPath(), (sink, window) -> FilePulls.pull(f.getStreamId(), req, sink, window, pullReaders));
  }

  void list(Frame f) {
    DirListRequest req = f.getDirList();
    readOnWorker(f.getStreamId(), "list", req.getPath(), (sink, window) -> DirListings.list(f.getStreamId(), req, sink, window));
  }

  /** A pull or a listing: it sends on its own, limited by the stream's send window. */
  private interface Reader {
    void send(FrameSink sink, SendWindow window);
  }

  /** Runs {@code reader} on a worker once the policy lets the host read {@code path}; the stream ends with it. */
  private void readOnWorker(int id, String kind, String path, Reader reader) {
    HopTrace trace = HopTrace.begin(id, kind, readNanos.getAsLong());
    trace.mark("handler");
    if (streams.allowed(id, Policy.Operation.FILE_READ, pathOf(path))) {
      Streams.AgentStream s = streams.open(id);
      streams.runThenEnd(id, s, () -> {
        trace.mark("worker");
        reader.send(s.sink, s.send);
        trace.mark("end-sent");
        trace.end();
      });
    }
  }

  private static Path pathOf(String path) {
    try {
      return GuestFiles.absolute(path);
    } catch (IllegalArgumentException e) {
      return Path.of("/").resolve(path).normalize(); // refused later with the transfer's own message
    }
  }
}
