package dev.vmlet.guest;

import dev.vmlet.proto.v1.Frame;
import java.io.IOException;

/**
 * Where one stream's frames go: the writer of the session in which the stream was opened. Once
 * that session has ended, {@link #send} fails instead of writing into the next one.
 */
@FunctionalInterface
interface FrameSink {
  void send(Frame frame) throws IOException;
}
