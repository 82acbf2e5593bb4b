package dev.vmlet.guest;

import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Frame.BodyCase;
import java.io.IOException;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The handler of each kind of frame the host sends, registered explicitly with {@link #on} (the
 * agent fills it in one place). Every kind is either registered or in {@link #IGNORED}; a frame of
 * a kind nobody handles is logged and dropped, never acted on.
 */
final class FrameHandlers {
  private static final Logger LOG = Logger.getLogger(FrameHandlers.class.getName());

  /**
   * Kinds only the agent sends. The host never sends them, so one arriving from it is a broken or
   * hostile host: it is dropped, because the agent only answers requests.
   */
  static final Set<BodyCase> IGNORED = Collections.unmodifiableSet(EnumSet.of(
      BodyCase.HELLO, BodyCase.PROOF, BodyCase.EXEC_OUTPUT, BodyCase.EXEC_EXIT, BodyCase.FILE_INFO,
      BodyCase.FILE_DONE, BodyCase.DIR_ENTRIES, BodyCase.DIR_END, BodyCase.FILE_OFFSET,
      BodyCase.GUEST_INFO, BodyCase.POWER_REPLY, BodyCase.BODY_NOT_SET));

  private final Map<BodyCase, FrameHandler> handlers = new EnumMap<>(BodyCase.class);

  /** Registers the handler of {@code kind}; a kind has one handler, and an ignored kind none. */
  FrameHandlers on(BodyCase kind, FrameHandler handler) {
    if (IGNORED.contains(kind)) {
      throw new IllegalArgumentException(kind + " is only sent by the agent; it has no handler");
    }
    if (handlers.putIfAbsent(kind, handler) != null) {
      throw new IllegalArgumentException(kind + " has a handler already");
    }
    return this;
  }

  /** The kinds with a handler. */
  Set<BodyCase> registered() {
    return Collections.unmodifiableSet(handlers.keySet());
  }

  /** Hands a frame from the host to its kind's handler. */
  void handle(Frame f) throws IOException {
    FrameHandler h = handlers.get(f.getBodyCase());
    if (h == null) {
      LOG.fine("ignoring " + f.getBodyCase() + " from host");
      return;
    }
    h.handle(f);
  }
}
