package dev.vmlet.common.frame;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.Frame;
import dev.vmlet.proto.agent.v1.Hello;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameCodecTest {
  private final List<Frame> frames = new ArrayList<>();
  private final List<FrameException> errors = new ArrayList<>();
  private final FrameDecoder decoder = new FrameDecoder(frames::add, errors::add);

  private static Frame hello(String id) {
    return Frame.newBuilder().setHello(Hello.newBuilder().setInstanceId(id).setAgentVersion("0.1.0")).build();
  }

  private static Frame output(int stream, int size) {
    byte[] data = new byte[size];
    Arrays.fill(data, (byte) 'x');
    return Frame.newBuilder().setStreamId(stream)
        .setExecOutput(ExecOutput.newBuilder().setFd(ExecOutput.Fd.STDOUT).setData(ByteString.copyFrom(data)))
        .build();
  }

  @Test
  void roundTrip_givesBackTheSameFrames() {
    Frame a = hello("abc");
    Frame b = output(7, 100_000);
    decoder.decode(ByteBuffer.wrap(concat(FrameEncoder.encode(a), FrameEncoder.encode(b))));
    assertThat(frames).containsExactly(a, b);
    assertThat(errors).isEmpty();
    assertThat(decoder.skippedBytes()).isZero();
  }

  @Test
  void roundTrip_byteByByte_givesBackTheSameFrame() {
    Frame a = output(3, 5000);
    byte[] wire = FrameEncoder.encode(a);
    for (byte b : wire) {
      decoder.decode(new byte[] {b}, 0, 1);
    }
    assertThat(frames).containsExactly(a);
  }

  @Test
  void encodeIntoABuffer_givesTheBytesOfTheArray_fromIndexZero_whateverTheBufferHeldBefore() {
    for (Frame f : List.of(hello("abc"), output(7, 100_000), Frame.getDefaultInstance())) {
      byte[] expected = FrameEncoder.encode(f);
      ByteBuffer direct = ByteBuffer.allocateDirect(expected.length + 10);
      while (direct.hasRemaining()) {
        direct.put((byte) 0x5a); // old bytes, as in a buffer kept from a longer frame
      }
      direct.position(3);
      FrameEncoder.encode(f, FrameEncoder.payloadSize(f), direct);
      assertThat(direct.position()).isZero();
      assertThat(direct.limit()).isEqualTo(expected.length);
      byte[] got = new byte[direct.remaining()];
      direct.get(got);
      assertThat(got).isEqualTo(expected);
    }
  }

  @Test
  void encodeIntoABuffer_tooSmall_isRefusedWithBothSizes() {
    Frame f = output(1, 1000);
    assertThatThrownBy(() -> FrameEncoder.encode(f, FrameEncoder.payloadSize(f), ByteBuffer.allocateDirect(100)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not fit a buffer of 100");
  }

  /** Frame {@code i} of {@code stream}: small, a chunk's size, or larger than a kept buffer, marked with both. */
  private static Frame marked(int stream, int i) {
    byte[] data = new byte[i % 3 == 0 ? 10 : i % 3 == 1 ? 32 * 1024 - 64 : FrameWriter.KEPT + 5000];
    Arrays.fill(data, (byte) ('a' + i % 26));
    byte[] mark = (stream + ":" + i + ":").getBytes(java.nio.charset.StandardCharsets.UTF_8);
    System.arraycopy(mark, 0, data, 0, mark.length);
    return Frame.newBuilder().setStreamId(stream)
        .setExecOutput(ExecOutput.newBuilder().setFd(ExecOutput.Fd.STDOUT).setData(ByteString.copyFrom(data))).build();
  }

  @Test
  void writerToBuffers_fromSeveralThreads_givesWholeFramesInEachThreadsOrder() throws Exception {
    ByteArrayOutputStream wire = new ByteArrayOutputStream();
    FrameWriter writer = new FrameWriter(frame -> {
      byte[] b = new byte[frame.remaining()];
      frame.get(b);
      wire.write(b); // under the writer's lock: one frame at a time
    });
    List<Thread> threads = new ArrayList<>();
    List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int t = 1; t <= 4; t++) {
      int stream = t;
      threads.add(new Thread(() -> {
        try {
          for (int i = 0; i < 30; i++) {
            writer.write(marked(stream, i));
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      }));
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
    decoder.decode(ByteBuffer.wrap(wire.toByteArray()));
    assertThat(errors).isEmpty();
    assertThat(decoder.skippedBytes()).isZero();
    assertThat(frames).hasSize(120);
    for (int stream = 1; stream <= 4; stream++) {
      int s = stream;
      List<Frame> expected = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        expected.add(marked(s, i));
      }
      assertThat(frames.stream().filter(f -> f.getStreamId() == s).toList()).containsExactlyElementsOf(expected);
    }
  }

  @Test
  void emptyFrame_roundTrips() {
    Frame empty = Frame.getDefaultInstance();
    decoder.decode(ByteBuffer.wrap(FrameEncoder.encode(empty)));
    assertThat(frames).containsExactly(empty);
  }

  @Test
  void truncatedFrame_isReportedAtEndOfStream() {
    byte[] wire = FrameEncoder.encode(hello("abc"));
    decoder.decode(wire, 0, wire.length - 3);
    assertThat(frames).isEmpty();
    assertThatThrownBy(decoder::finish).isInstanceOf(TruncatedFrameException.class)
        .hasMessageContaining("have " + (wire.length - 3) + " of " + wire.length);
  }

  @Test
  void truncatedFrame_throughTheBlockingReader_isATruncatedFrameException() {
    byte[] wire = FrameEncoder.encode(hello("abc"));
    FrameReader reader = new FrameReader(new ByteArrayInputStream(Arrays.copyOf(wire, wire.length - 1)), errors::add);
    assertThatThrownBy(reader::read).isInstanceOf(TruncatedFrameException.class);
  }

  @Test
  void oversizedLength_isRejectedFromTheHeaderAlone_beforeAnyPayloadArrives() {
    int huge = Integer.MAX_VALUE;
    ByteBuffer header = ByteBuffer.allocate(FrameFormat.HEADER_SIZE)
        .putInt(FrameFormat.MAGIC).putInt(huge).putInt(~huge).putInt(0);
    decoder.decode(header.flip());
    // Only the 16 header bytes were given: the rejection cannot have waited for (or buffered) a payload.
    assertThat(errors).singleElement().isInstanceOf(FrameTooLargeException.class)
        .satisfies(e -> assertThat(((FrameTooLargeException) e).announced()).isEqualTo(huge));
    assertThat(frames).isEmpty();
  }

  @Test
  void oversizedLength_thenAValidFrame_stillDeliversTheValidFrame() {
    int big = FrameFormat.MAX_PAYLOAD + 1;
    ByteBuffer bad = ByteBuffer.allocate(FrameFormat.HEADER_SIZE).putInt(FrameFormat.MAGIC).putInt(big).putInt(~big).putInt(0);
    Frame good = hello("after");
    decoder.decode(ByteBuffer.wrap(concat(bad.array(), FrameEncoder.encode(good))));
    assertThat(errors).singleElement().isInstanceOf(FrameTooLargeException.class);
    assertThat(frames).containsExactly(good);
  }

  @Test
  void encoder_refusesAFrameOverTheMaximum() {
    assertThatThrownBy(() -> FrameEncoder.encode(output(1, FrameFormat.MAX_PAYLOAD + 1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exceeds the maximum");
  }

  @Test
  void garbageBeforeAFrame_isSkippedAndCounted() {
    byte[] garbage = "old bytes VML from a previous session\u0000\u0001VML1".getBytes();
    Frame good = hello("x");
    decoder.decode(ByteBuffer.wrap(concat(garbage, FrameEncoder.encode(good))));
    assertThat(frames).containsExactly(good);
    assertThat(decoder.skippedBytes()).isEqualTo(garbage.length);
  }

  @Test
  void joiningInTheMiddleOfAFrame_resynchronisesOnTheNextOne() {
    byte[] first = FrameEncoder.encode(output(1, 300));
    Frame second = hello("second");
    byte[] tail = Arrays.copyOfRange(first, 40, first.length);
    decoder.decode(ByteBuffer.wrap(concat(tail, FrameEncoder.encode(second))));
    assertThat(frames).containsExactly(second);
  }

  @Test
  void corruptedPayload_isAChecksumError_andTheNextFrameStillArrives() {
    byte[] wire = FrameEncoder.encode(hello("abc"));
    wire[wire.length - 1] ^= 0x40;
    Frame next = hello("next");
    decoder.decode(ByteBuffer.wrap(concat(wire, FrameEncoder.encode(next))));
    assertThat(errors).singleElement().isInstanceOf(FrameChecksumException.class);
    assertThat(frames).containsExactly(next);
  }

  @Test
  void writerAndReader_carryFramesOverAStream() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    FrameWriter writer = new FrameWriter(out);
    writer.write(hello("1"));
    writer.write(output(2, 70_000));
    FrameReader reader = new FrameReader(new ByteArrayInputStream(out.toByteArray()), errors::add);
    assertThat(reader.read()).isEqualTo(hello("1"));
    assertThat(reader.read()).isEqualTo(output(2, 70_000));
    assertThat(reader.read()).isNull();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
