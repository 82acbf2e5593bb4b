package dev.vmlet.agent;

import dev.vmlet.agent.GuestQueries.ListListener;
import dev.vmlet.agent.GuestQueries.ReplyListener;
import dev.vmlet.agent.LinkStreams.Stream;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Frame.BodyCase;

/**
 * The handlers of the agent's answers on streams, one per kind of frame: each hands the frame to
 * the listener of the stream it names, if that stream is open and its request expects that kind
 * (an exec's output only to an exec). Data counts against the stream's window; a last answer ends
 * the stream. Anything else answers nothing and is dropped by the registry.
 */
final class StreamReplies {
  private final LinkStreams streams;

  private StreamReplies(LinkStreams streams) {
    this.streams = streams;
  }

  /** Registers a handler for every kind of answer on a stream. */
  static void register(AgentFrameHandlers handlers, LinkStreams streams) {
    StreamReplies r = new StreamReplies(streams);
    handlers
        // A late update for a stream that just ended is normal, not a frame to count.
        .on(BodyCase.WINDOW_UPDATE, f -> streams.granted(f.getStreamId(), f.getWindowUpdate().getBytes()) || true)
        .on(BodyCase.EXEC_OUTPUT, r::execOutput)
        .on(BodyCase.EXEC_EXIT, f -> r.last(f, ExecListener.class, "the program ended", l -> l.exit(f.getExecExit())))
        .on(BodyCase.FILE_INFO, f -> r.to(f, TransferListener.class, l -> l.info(f.getFileInfo())))
        .on(BodyCase.FILE_DATA, r::fileData)
        .on(BodyCase.FILE_OFFSET, f -> r.to(f, TransferListener.class, l -> l.offset(f.getFileOffset().getOffset())))
        .on(BodyCase.FILE_DONE, f -> r.last(f, TransferListener.class, "the transfer ended", l -> l.done(f.getFileDone())))
        .on(BodyCase.DIR_ENTRIES, r::dirEntries)
        .on(BodyCase.DIR_END, f -> r.last(f, ListListener.class, "the listing ended", l -> l.end.run()))
        .on(BodyCase.GUEST_INFO, f -> r.last(f, ReplyListener.class, "answered", l -> l.reply.accept(f)))
        .on(BodyCase.POWER_REPLY, f -> r.last(f, ReplyListener.class, "answered", l -> l.reply.accept(f)))
        .on(BodyCase.ERROR, r::error);
  }

  /** What a handler does with a listener of the right kind. */
  private interface Delivery<L> {
    void deliver(L listener);
  }

  /** Hands a frame that does not end its stream to the stream's listener, if it expects it. */
  private <L> boolean to(Frame f, Class<L> kind, Delivery<L> d) {
    Stream s = streams.get(f.getStreamId());
    if (s == null || !kind.isInstance(s.listener())) {
      return false;
    }
    d.deliver(kind.cast(s.listener()));
    return true;
  }

  /** Hands a stream's last answer to its listener and ends the stream. */
  private <L> boolean last(Frame f, Class<L> kind, String why, Delivery<L> d) {
    Stream s = streams.get(f.getStreamId());
    if (s == null || !kind.isInstance(s.listener()) || streams.finish(f.getStreamId(), why) == null) {
      return false;
    }
    d.deliver(kind.cast(s.listener()));
    return true;
  }

  private boolean execOutput(Frame f) {
    ExecOutput out = f.getExecOutput();
    return data(f, ExecListener.class, out.getData().size(), false, l -> {
      if (out.getFd() == ExecOutput.Fd.STDERR) {
        l.stderr(out.getData().toByteArray());
      } else {
        l.stdout(out.getData().toByteArray());
      }
    });
  }

  private boolean fileData(Frame f) {
    return data(f, TransferListener.class, f.getFileData().getData().size(), false, l -> l.data(f.getFileData().getData().toByteArray()));
  }

  /** Entries are charged to the window by their encoded size, and granted back at once. */
  private boolean dirEntries(Frame f) {
    return data(f, ListListener.class, f.getSerializedSize(), true, l -> l.entries.accept(f.getDirEntries()));
  }

  /**
   * Data on a stream: counted against its window (a guest past it has the stream cancelled), handed
   * on, and its credit returned, at once with {@code grantNow}, else unless the listener returns it.
   */
  private <L> boolean data(Frame f, Class<L> kind, int n, boolean grantNow, Delivery<L> d) {
    int id = f.getStreamId();
    Stream s = streams.get(id);
    if (s == null || !kind.isInstance(s.listener())) {
      return false;
    }
    if (streams.received(id, s, n)) {
      d.deliver(kind.cast(s.listener()));
      if (grantNow) {
        streams.consumed(id, n);
      } else {
        streams.delivered(id, s, n);
      }
    }
    return true;
  }

  private boolean error(Frame f) {
    Stream s = streams.finish(f.getStreamId(), f.getError().getMessage());
    if (s == null) {
      return false;
    }
    s.listener().failed(f.getError());
    return true;
  }
}
