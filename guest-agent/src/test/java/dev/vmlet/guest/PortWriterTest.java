package dev.vmlet.guest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.vmlet.common.frame.FrameDecoder;
import dev.vmlet.common.frame.FrameWriter;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Frames written with write(2) from native memory, to a real file through the real libc. */
class PortWriterTest {
  @TempDir Path dir;

  private static Frame output(int stream, int size) {
    byte[] data = new byte[size];
    for (int i = 0; i < size; i++) {
      data[i] = (byte) (i * 31 + stream);
    }
    return Frame.newBuilder().setStreamId(stream)
        .setExecOutput(ExecOutput.newBuilder().setFd(ExecOutput.Fd.STDOUT).setData(ByteString.copyFrom(data))).build();
  }

  @Test
  void framesWrittenFromNativeMemory_decodeAsTheFramesSent() throws Exception {
    assumeTrue(PosixSpawn.available(), "no libc binding here");
    Path port = Files.createFile(dir.resolve("port"));
    List<Frame> sent = List.of(output(1, 10), output(2, 32 * 1024 - 64), output(3, 100_000), output(4, 0));
    try (RandomAccessFile file = new RandomAccessFile(port.toFile(), "rw")) {
      PortWriter w = PortWriter.of(port).orElseThrow();
      FrameWriter writer = new FrameWriter(w);
      for (Frame f : sent) {
        writer.write(f);
      }
      w.close();
    }
    List<Frame> got = new ArrayList<>();
    new FrameDecoder(got::add, e -> {
      throw new AssertionError(e);
    }).decode(ByteBuffer.wrap(Files.readAllBytes(port)));
    assertThat(got).containsExactlyElementsOf(sent);
  }

  @Test
  void descriptorOf_findsTheOneDescriptorOnAFile_andNoneWhenItIsOpenTwice() throws Exception {
    Path port = Files.createFile(dir.resolve("port"));
    assertThat(PortWriter.descriptorOf(port)).isEmpty();
    try (RandomAccessFile once = new RandomAccessFile(port.toFile(), "rw")) {
      OptionalInt fd = PortWriter.descriptorOf(port);
      assertThat(fd).isPresent();
      assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd.getAsInt()))).isEqualTo(port.toRealPath());
      try (RandomAccessFile twice = new RandomAccessFile(port.toFile(), "r")) {
        assertThat(PortWriter.descriptorOf(port)).as("open twice: which one is the port's is unknown").isEmpty();
      }
    }
  }

  @Test
  void afterClose_writesFail_andItsDescriptorIsClosed_theFileStaysOpenForItsOwner() throws Exception {
    assumeTrue(PosixSpawn.available(), "no libc binding here");
    Path port = Files.createFile(dir.resolve("port"));
    try (RandomAccessFile file = new RandomAccessFile(port.toFile(), "rw")) {
      PortWriter w = PortWriter.of(port).orElseThrow();
      int dup = w.fd();
      assertThat(Files.exists(Path.of("/proc/self/fd/" + dup))).isTrue();
      w.close();
      w.close(); // twice: nothing more
      assertThat(Files.exists(Path.of("/proc/self/fd/" + dup))).as("the duplicate is closed").isFalse();
      assertThatThrownBy(() -> w.write(ByteBuffer.allocateDirect(4))).hasMessageContaining("closed");
      file.write(1); // the owner's descriptor was not touched
    }
  }

  @Test
  void aFrameSwitch_stream_keepsTheStreamWriter() throws Exception {
    assumeTrue(PosixSpawn.available(), "no libc binding here: the stream writer either way");
    Path port = Files.createFile(dir.resolve("port"));
    String before = System.getProperty("vmlet.agent.frames");
    System.setProperty("vmlet.agent.frames", "stream");
    try (RandomAccessFile file = new RandomAccessFile(port.toFile(), "rw")) {
      assertThat(PortWriter.of(port)).isEmpty();
    } finally {
      if (before == null) {
        System.clearProperty("vmlet.agent.frames");
      } else {
        System.setProperty("vmlet.agent.frames", before);
      }
    }
  }
}
