package dev.vmlet.agent;

import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Frame.BodyCase;
import java.io.IOException;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The handler of each kind of frame the agent sends, registered explicitly with {@link #on} (the
 * link fills it in one place). A frame that answers nothing is handed to the drop callback, which
 * counts it: one of a kind only the host sends ({@link #HOST_ONLY}), of a kind nobody registered,
 * or one its handler found answering no open request. The guest is untrusted; such a frame is
 * never acted on. Called on the link's reader thread only.
 */
final class AgentFrameHandlers {
  /** Answers one kind of frame; false when it answered no open request (it is then dropped). */
  @FunctionalInterface
  interface Handler {
    boolean handle(Frame frame) throws IOException;
  }

  /** Kinds only the host sends: one from the agent is a broken or hostile guest. */
  static final Set<BodyCase> HOST_ONLY = Collections.unmodifiableSet(EnumSet.of(
      BodyCase.WELCOME, BodyCase.REFUSED, BodyCase.EXEC_START, BodyCase.EXEC_INPUT, BodyCase.EXEC_CANCEL,
      BodyCase.EXEC_RESIZE, BodyCase.FILE_WRITE_START, BodyCase.FILE_END, BodyCase.FILE_READ_START,
      BodyCase.DIR_LIST, BodyCase.GUEST_INFO_REQUEST, BodyCase.POWER, BodyCase.BODY_NOT_SET));

  private final Map<BodyCase, Handler> handlers = new EnumMap<>(BodyCase.class);
  private final Consumer<Frame> drop;

  /** @param drop gets every frame that answered nothing */
  AgentFrameHandlers(Consumer<Frame> drop) {
    this.drop = drop;
  }

  /** Registers the handler of {@code kind}; a kind has one handler, and a host-only kind none. */
  AgentFrameHandlers on(BodyCase kind, Handler handler) {
    if (HOST_ONLY.contains(kind)) {
      throw new IllegalArgumentException(kind + " is only sent by the host; it has no handler");
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

  /** Hands a frame from the agent to its kind's handler, or drops it. */
  void handle(Frame f) throws IOException {
    Handler h = handlers.get(f.getBodyCase());
    if (h == null || !h.handle(f)) {
      drop.accept(f);
    }
  }
}
