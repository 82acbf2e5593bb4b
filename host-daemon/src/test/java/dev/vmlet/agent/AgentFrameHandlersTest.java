package dev.vmlet.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.ExecStart;
import dev.vmlet.proto.agent.v1.FileData;
import dev.vmlet.proto.agent.v1.FileDone;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Frame.BodyCase;
import dev.vmlet.proto.agent.v1.WindowUpdate;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The registry of the agent's frame kinds and the stream replies, without a socket. */
class AgentFrameHandlersTest {
  private final List<Frame> dropped = new ArrayList<>();
  private final List<Frame> sent = new ArrayList<>();
  private final LinkStreams streams = new LinkStreams("vm1", sent::add);
  private final AgentFrameHandlers handlers = new AgentFrameHandlers(dropped::add);

  @Test
  void everyKindTheAgentSends_hasAHandler_andNoHostOnlyKindHasOne() {
    StreamReplies.register(handlers, streams);
    handlers.on(BodyCase.HELLO, f -> true).on(BodyCase.PROOF, f -> true).on(BodyCase.HEARTBEAT, f -> true);
    EnumSet<BodyCase> all = EnumSet.allOf(BodyCase.class);
    all.removeAll(AgentFrameHandlers.HOST_ONLY);
    assertThat(handlers.registered()).containsExactlyInAnyOrderElementsOf(all);
  }

  @Test
  void aKindOnlyTheHostSends_isDropped_andCannotGetAHandler() throws Exception {
    StreamReplies.register(handlers, streams);
    Frame f = Frame.newBuilder().setStreamId(1).setExecStart(ExecStart.newBuilder().addArgv("rm")).build();
    handlers.handle(f);
    assertThat(dropped).containsExactly(f);
    assertThatThrownBy(() -> handlers.on(BodyCase.EXEC_START, x -> true)).hasMessageContaining("only sent by the host");
    assertThatThrownBy(() -> handlers.on(BodyCase.ERROR, x -> true)).hasMessageContaining("has a handler already");
  }

  @Test
  void aFrameWithNoKind_isDropped() throws Exception {
    handlers.handle(Frame.getDefaultInstance());
    assertThat(dropped).hasSize(1);
  }

  @Test
  void anAnswerOfTheWrongKindForItsStream_isDropped_andTheStreamStaysOpen() throws Exception {
    StreamReplies.register(handlers, streams);
    List<String> events = new ArrayList<>();
    int id = streams.add(new TransferListener() {
      @Override
      public void done(FileDone done) {
        events.add("done");
      }

      @Override
      public void failed(String reason) {
        events.add("failed");
      }
    });
    Frame exit = Frame.newBuilder().setStreamId(id).setExecExit(ExecExit.newBuilder().setExitCode(0)).build();
    handlers.handle(exit);
    assertThat(dropped).containsExactly(exit);
    assertThat(streams.contains(id)).isTrue();
    handlers.handle(Frame.newBuilder().setStreamId(id).setFileDone(FileDone.newBuilder().setSize(3)).build());
    assertThat(events).containsExactly("done");
    assertThat(streams.contains(id)).isFalse();
  }

  @Test
  void dataOnAStreamNobodyOpened_isDropped_butALateWindowUpdateIsNot() throws Exception {
    StreamReplies.register(handlers, streams);
    Frame data = Frame.newBuilder().setStreamId(7).setFileData(FileData.newBuilder().setData(ByteString.copyFromUtf8("x"))).build();
    handlers.handle(data);
    handlers.handle(Frame.newBuilder().setStreamId(7).setWindowUpdate(WindowUpdate.newBuilder().setBytes(10)).build());
    assertThat(dropped).containsExactly(data);
  }
}
