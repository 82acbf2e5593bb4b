package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;

/**
 * Answers one kind of frame from the host, on the link's reader thread: it must not block on
 * anything but the link itself, so slow work (a program, a pull, a listing) goes to a worker.
 * An IOException means the link to the host failed.
 */
@FunctionalInterface
interface FrameHandler {
  void handle(Frame frame) throws IOException;
}
