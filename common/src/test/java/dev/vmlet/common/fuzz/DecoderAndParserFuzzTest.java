package dev.vmlet.common.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.code_intelligence.jazzer.mutation.annotation.NotNull;
import dev.vmlet.common.at.AtParser;
import dev.vmlet.common.at.AtSyntaxException;
import dev.vmlet.common.at.Pipeline;
import dev.vmlet.common.frame.FrameDecoder;
import dev.vmlet.common.frame.FrameEncoder;
import dev.vmlet.common.frame.FrameFormat;
import dev.vmlet.proto.agent.v1.Frame;
import java.util.ArrayList;
import java.util.List;

/**
 * Coverage-guided fuzzing (Jazzer). In a normal build each test runs its kept inputs
 * (src/test/resources/.../DecoderAndParserFuzzTestInputs/METHOD/) as regression tests; with
 * JAZZER_FUZZ=1 it fuzzes ({@code ./scripts/fuzz}).
 */
class DecoderAndParserFuzzTest {
  /** Any bytes: the decoder never throws, never yields a frame larger than the limit, and still decodes a good frame after them. */
  @FuzzTest(maxDuration = "10m")
  void theFrameDecoder_survivesAnyBytes(@NotNull byte[] garbage) {
    List<Frame> frames = new ArrayList<>();
    List<Exception> errors = new ArrayList<>(); // reported, never thrown
    FrameDecoder d = new FrameDecoder(frames::add, errors::add);
    d.decode(garbage, 0, garbage.length);
    for (Frame f : frames) {
      assertThat(f.getSerializedSize()).isLessThanOrEqualTo(FrameFormat.MAX_PAYLOAD);
    }
    // Resynchronisation: whatever header the garbage began, good frames come through again at the
    // latest after the largest frame's worth of bytes (fed in small batches, so that fuzzing stays fast).
    int before = frames.size();
    long fed = 0;
    while (!frames.subList(before, frames.size()).contains(MARK)) {
      assertThat(fed).as("bytes of good frames fed without one coming through").isLessThanOrEqualTo(FrameFormat.MAX_PAYLOAD + 4096L);
      d.decode(BATCH, 0, BATCH.length);
      fed += BATCH.length;
    }
  }

  private static final Frame MARK = Frame.newBuilder().setStreamId(424242).build();
  private static final byte[] BATCH = batch();

  private static byte[] batch() {
    byte[] one = FrameEncoder.encode(MARK);
    byte[] all = new byte[64 * one.length];
    for (int i = 0; i < 64; i++) {
      System.arraycopy(one, 0, all, i * one.length, one.length);
    }
    return all;
  }

  /** Any line: the parser returns a pipeline or an error with a column inside the line, nothing else. */
  @FuzzTest(maxDuration = "10m")
  void theAtParser_parsesOrNamesAColumn(@NotNull String line) {
    try {
      Pipeline p = AtParser.parse(line);
      assertThat(p.stages()).isNotEmpty();
    } catch (AtSyntaxException e) {
      assertThat(e.column()).isBetween(1, line.length() + 1);
      assertThat(e.getMessage()).startsWith("column " + e.column() + ": ");
    }
  }
}
