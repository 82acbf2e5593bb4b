package dev.vmlet.common.frame;

import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * Blocking frame reader over an {@link InputStream}, for the thread that owns one end of the
 * agent link. Garbage is skipped; bad frames go to the error listener and are otherwise ignored.
 */
public final class FrameReader {
  private final InputStream in;
  private final ArrayDeque<Frame> ready = new ArrayDeque<>();
  private final FrameDecoder decoder;
  private final byte[] buffer = new byte[64 * 1024];

  public FrameReader(InputStream in, Consumer<FrameException> errors) {
    this.in = in;
    this.decoder = new FrameDecoder(ready::add, errors);
  }

  /**
   * Returns the next frame, blocking until one is complete.
   *
   * @return the frame, or {@code null} at a clean end of stream
   * @throws TruncatedFrameException if the stream ends inside a frame
   */
  public Frame read() throws IOException, TruncatedFrameException {
    while (ready.isEmpty()) {
      int n = in.read(buffer);
      if (n < 0) {
        decoder.finish();
        return null;
      }
      decoder.decode(buffer, 0, n);
    }
    return ready.poll();
  }

  public long skippedBytes() {
    return decoder.skippedBytes();
  }
}
