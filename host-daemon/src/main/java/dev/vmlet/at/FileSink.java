package dev.vmlet.at;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.agent.GuestPush;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * A redirect's stream ({@code >}, {@code >>}, {@code 2>}) on its way into a push, which changes the
 * file only once all of it arrived. The sink's thread sends each chunk as the destination guest
 * grants credit, and only then does the producer get its credit back: so the daemon holds no more
 * than the producers' windows, with no pipe between. Aborted, the push is cancelled and the file is
 * left as it was.
 */
final class FileSink extends QueuedSink {
  private final GuestPush push;

  /** Opens the push now: its FileWriteStart goes out before any output can arrive. */
  FileSink(AgentLink to, FileWriteStart start, int producers, Held held) throws IOException {
    super("redirect-" + start.getPath(), producers, held);
    this.push = GuestPush.open(to, start, () -> { }); // this thread may wait for credit: write does
  }

  /** The guest's answer once the file is in place, or why it is not. */
  CompletableFuture<FileDone> result() {
    return push.result();
  }

  @Override
  void write(byte[] data) throws IOException {
    push.write(data, 0, data.length);
  }

  @Override
  void end() {
    push.end(null); // the data was digested here, on its way; the guest checks it against that
  }

  /** Cancels the push; a write waiting for credit fails at once. */
  void abort() {
    if (!push.result().isDone()) {
      push.cancel("the line was cancelled; the file was left as it was");
    }
  }
}
