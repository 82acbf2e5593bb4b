package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.proto.agent.v1.ExecCancel;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Frame.BodyCase;
import dev.vmlet.proto.agent.v1.Hello;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Every kind of frame has a handler or is deliberately ignored: a new kind cannot be dropped unseen. */
class FrameHandlersTest {
  /** The kinds docs/agent-protocol.md says the host sends to the agent. */
  private static final Set<BodyCase> FROM_HOST = EnumSet.of(
      BodyCase.WELCOME, BodyCase.REFUSED, BodyCase.HEARTBEAT, BodyCase.WINDOW_UPDATE, BodyCase.ERROR,
      BodyCase.EXEC_START, BodyCase.EXEC_INPUT, BodyCase.EXEC_RESIZE, BodyCase.EXEC_CANCEL,
      BodyCase.FILE_WRITE_START, BodyCase.FILE_DATA, BodyCase.FILE_END, BodyCase.FILE_READ_START, BodyCase.DIR_LIST,
      BodyCase.GUEST_INFO_REQUEST, BodyCase.POWER);

  private Agent agent;

  @BeforeEach
  void makeAgent() {
    Transport noHost = () -> {
      throw new IOException("no host in this test");
    };
    agent = new Agent(noHost, Hello.newBuilder().setInstanceId("kinds").build(), Duration.ofSeconds(1), Policy.allowAll());
  }

  @AfterEach
  void closeAgent() {
    agent.close();
  }

  @Test
  void everyFrameKind_hasAHandlerOrIsDeliberatelyIgnored() {
    for (BodyCase kind : BodyCase.values()) {
      boolean handled = agent.handlers().registered().contains(kind);
      boolean ignored = FrameHandlers.IGNORED.contains(kind);
      assertThat(handled || ignored)
          .as("%s has no handler in Agent.handlers and is not in FrameHandlers.IGNORED: the agent would drop it", kind)
          .isTrue();
      assertThat(handled && ignored).as("%s is both handled and ignored", kind).isFalse();
    }
  }

  @Test
  void everyKindTheHostSends_hasAHandler_andNoOtherKindDoes() {
    assertThat(agent.handlers().registered()).containsExactlyInAnyOrderElementsOf(FROM_HOST);
  }

  @Test
  void aKind_isRegisteredOnlyOnce() {
    FrameHandlers h = new FrameHandlers().on(BodyCase.EXEC_CANCEL, f -> { });
    assertThatThrownBy(() -> h.on(BodyCase.EXEC_CANCEL, f -> { })).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("EXEC_CANCEL");
  }

  @Test
  void aKindOnlyTheAgentSends_cannotGetAHandler() {
    assertThatThrownBy(() -> new FrameHandlers().on(BodyCase.EXEC_OUTPUT, f -> { })).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("EXEC_OUTPUT");
  }

  @Test
  void aFrame_goesToItsKindsHandler_andAnIgnoredOneToNone() throws IOException {
    List<Frame> seen = new ArrayList<>();
    FrameHandlers h = new FrameHandlers().on(BodyCase.EXEC_CANCEL, seen::add);
    Frame cancel = Frame.newBuilder().setStreamId(3).setExecCancel(ExecCancel.getDefaultInstance()).build();
    h.handle(cancel);
    h.handle(Frame.newBuilder().setStreamId(3).setExecOutput(ExecOutput.getDefaultInstance()).build());
    h.handle(Frame.getDefaultInstance());
    assertThat(seen).containsExactly(cancel);
  }
}
