package dev.vmlet.common.frame;

import dev.vmlet.proto.v1.Frame;
import java.io.IOException;
import java.io.OutputStream;

/** Writes whole frames to an {@link OutputStream}; safe to call from several threads. */
public final class FrameWriter {
  private final OutputStream out;

  public FrameWriter(OutputStream out) {
    this.out = out;
  }

  public void write(Frame frame) throws IOException {
    byte[] bytes = FrameEncoder.encode(frame);
    synchronized (this) {
      out.write(bytes);
      out.flush();
    }
  }
}
