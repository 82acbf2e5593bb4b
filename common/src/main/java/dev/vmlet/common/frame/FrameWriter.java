package dev.vmlet.common.frame;

import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes whole frames to an {@link OutputStream}; safe to call from several threads. Writers take
 * turns in arrival order (a fair lock), so a stream that always has a frame ready cannot keep the
 * others off the link.
 */
public final class FrameWriter {
  private final OutputStream out;
  private final ReentrantLock lock = new ReentrantLock(true);

  public FrameWriter(OutputStream out) {
    this.out = out;
  }

  public void write(Frame frame) throws IOException {
    byte[] bytes = FrameEncoder.encode(frame);
    lock.lock();
    try {
      out.write(bytes);
      out.flush();
    } finally {
      lock.unlock();
    }
  }
}
