package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.util.logging.Logger;

/**
 * Where one stream's frames go: the writer of the session in which the stream was opened. Once
 * that session has ended, {@link #send} fails instead of writing into the next one.
 */
@FunctionalInterface
interface FrameSink {
  /**
   * Writes the frame before returning and keeps no reference to it, so a caller may wrap a buffer
   * it reuses in the frame without copying it.
   */
  void send(Frame frame) throws IOException;

  /**
   * Sends an answer whose failure nobody can act on: it only means the session ended, and the
   * host has already failed the request, so the failure is logged, not thrown.
   */
  default void sendOrLog(Frame frame) {
    try {
      send(frame);
    } catch (IOException e) {
      Logger.getLogger(FrameSink.class.getName()).fine("cannot answer on stream " + frame.getStreamId() + ": " + e.getMessage());
    }
  }
}
