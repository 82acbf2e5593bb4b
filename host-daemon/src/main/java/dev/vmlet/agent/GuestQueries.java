package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.DirEntries;
import dev.vmlet.proto.agent.v1.DirEntry;
import dev.vmlet.proto.agent.v1.DirListRequest;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.GuestInfoReply;
import dev.vmlet.proto.agent.v1.GuestInfoRequest;
import dev.vmlet.proto.agent.v1.PowerRequest;
import dev.vmlet.proto.agent.v1.StreamError;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The requests whose answers are collected into one result: guest info, power, a directory
 * listing. Each opens a stream on the link and completes a future from the link's reader thread.
 */
final class GuestQueries {
  private GuestQueries() {}

  static CompletableFuture<GuestInfoReply> guestInfo(AgentLink link) throws IOException {
    CompletableFuture<GuestInfoReply> result = new CompletableFuture<>();
    link.open(Frame.newBuilder().setGuestInfoRequest(GuestInfoRequest.getDefaultInstance()),
        new ReplyListener(f -> result.complete(f.getGuestInfo()), result::completeExceptionally), "a guest info request");
    return result;
  }

  static CompletableFuture<Void> power(AgentLink link, PowerRequest.Action action) throws IOException {
    CompletableFuture<Void> result = new CompletableFuture<>();
    link.open(Frame.newBuilder().setPower(PowerRequest.newBuilder().setAction(action)),
        new ReplyListener(f -> result.complete(null), result::completeExceptionally), "a power request");
    return result;
  }

  /** A listing with more than {@link AgentLink#MAX_LIST_ENTRIES} entries is cancelled. */
  static CompletableFuture<List<DirEntry>> listDir(AgentLink link, String path) throws IOException {
    CompletableFuture<List<DirEntry>> result = new CompletableFuture<>();
    List<DirEntry> entries = new ArrayList<>();
    int[] id = {-1};
    ListListener l = new ListListener(e -> {
      entries.addAll(e.getEntriesList());
      if (entries.size() > AgentLink.MAX_LIST_ENTRIES && id[0] >= 0) {
        link.cancel(id[0], "more than " + AgentLink.MAX_LIST_ENTRIES + " entries under " + path);
      }
    }, () -> result.complete(entries), result::completeExceptionally);
    id[0] = link.open(Frame.newBuilder().setDirList(DirListRequest.newBuilder().setPath(path)), l, "a directory listing");
    return result;
  }

  /** A listener whose failures go to one consumer: an {@link AgentException} when the agent said why. */
  abstract static class FailsTo implements StreamListener {
    final Consumer<Throwable> error;

    FailsTo(Consumer<Throwable> error) {
      this.error = error;
    }

    @Override
    public void failed(String reason) {
      error.accept(new IOException(reason));
    }

    @Override
    public void failed(StreamError e) {
      error.accept(new AgentException(e));
    }
  }

  /** Gets the one answer frame of a request, or its error. */
  static final class ReplyListener extends FailsTo {
    final Consumer<Frame> reply;

    ReplyListener(Consumer<Frame> reply, Consumer<Throwable> error) {
      super(error);
      this.reply = reply;
    }
  }

  /** Gets a listing's entries, then its end, or its error. */
  static final class ListListener extends FailsTo {
    final Consumer<DirEntries> entries;
    final Runnable end;

    ListListener(Consumer<DirEntries> entries, Runnable end, Consumer<Throwable> error) {
      super(error);
      this.entries = entries;
      this.end = end;
    }
  }
}
