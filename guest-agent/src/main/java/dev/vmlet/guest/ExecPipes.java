package dev.vmlet.guest;

import com.google.protobuf.UnsafeByteOperations;
import com.sun.jna.Memory;
import dev.vmlet.common.flow.SendWindow;
import dev.vmlet.proto.agent.v1.ExecInput;
import dev.vmlet.proto.agent.v1.ExecOutput;
import dev.vmlet.proto.agent.v1.Frame;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;
import java.util.logging.Logger;

/**
 * The bytes of one exec, each way on a thread of its own (from a pool kept between execs): ExecInput frames into the program's stdin
 * (each written chunk goes back to the host as credit), and the program's output out as
 * ExecOutput frames within the stream's send window, so a host that stops reading stops the
 * program at a full pipe. A pump that cannot send kills the program: nobody will read the rest.
 */
final class ExecPipes {
  private static final Logger LOG = Logger.getLogger(ExecPipes.class.getName());
  private static final int CHUNK = GuestFiles.CHUNK; // one write(2) to the port per frame
  /**
   * How much of a spawned program's output one read(2) takes: four frames' worth, so 1 MiB of
   * output is 8 polls and reads instead of 33 of each (each a wake-up and a JNA call, dear under
   * TCG), while each frame keeps at most {@link #CHUNK} bytes (the link's writers take turns frame
   * by frame). Read into native memory that the frames are encoded from: one copy of the bytes
   * into the frame, where a read into a Java array was three (JNA copies the whole array in and out).
   */
  static final int READ = 4 * CHUNK;
  /** Each exec thread's read buffer, kept between execs (a new one per exec would be an mmap of 128 KiB and its page faults). */
  private static final ThreadLocal<Memory> READ_BUFFER = ThreadLocal.withInitial(() -> new Memory(READ));
  private static final ExecInput END = ExecInput.newBuilder().setEof(true).build();
  /**
   * The pumps' threads, kept between execs: starting two or three new threads per exec was a
   * measurable part of a short exec's round trip under TCG.
   */
  private static final ExecutorService THREADS = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "exec-pipe");
    t.setDaemon(true);
    return t;
  });

  private final int stream;
  private final FrameSink sink;
  private final SendWindow window;
  private final IntConsumer stdinConsumed;
  private final Runnable kill;
  // Bounded by the stream's receive window: the host cannot send more than it was granted.
  private final BlockingQueue<ExecInput> stdin = new LinkedBlockingQueue<>();

  ExecPipes(int stream, FrameSink sink, SendWindow window, IntConsumer stdinConsumed, Runnable kill) {
    this.stream = stream;
    this.sink = sink;
    this.window = window;
    this.stdinConsumed = stdinConsumed;
    this.kill = kill;
  }

  /** Bytes for stdin (already counted against the receive window by the caller). */
  void input(ExecInput in) {
    stdin.add(in);
  }

  /** Ends the feeder even if the host never closes stdin. */
  void endInput() {
    stdin.add(END);
  }

  /** Writes stdin frames to the program through {@code to} as they come; {@code alive}: whether it still runs. */
  Future<?> feed(OutputStream to, BooleanSupplier alive) {
    return THREADS.submit(() -> {
      try (to) {
        while (true) {
          ExecInput in = stdin.take();
          if (!in.getData().isEmpty()) {
            try {
              in.getData().writeTo(to);
              to.flush();
            } finally {
              stdinConsumed.accept(in.getData().size());
            }
          }
          if (in.getEof()) {
            return;
          }
        }
      } catch (IOException e) {
        // the program closed its stdin or ended: later input is dropped, its credit returned
        drainStdin(alive);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  private void drainStdin(BooleanSupplier alive) {
    while (alive.getAsBoolean()) {
      try {
        ExecInput in = stdin.poll(200, TimeUnit.MILLISECONDS);
        if (in != null) {
          stdinConsumed.accept(in.getData().size());
          if (in.getEof()) {
            return;
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /**
   * Sends both outputs of a spawned program from the calling thread, reading whichever poll(2)
   * says is ready, until both end: no thread handoff on a short exec's way (each one a wake-up of
   * a guest CPU under TCG). A pump that cannot send kills the program, as {@link #pump}. With the
   * trace on, notes how the output went: polls, frames, bytes, and the time spent waiting for
   * credit and sending.
   */
  void pumpHere(PosixSpawn p, HopTrace trace) {
    Memory buf = READ_BUFFER.get();
    OutputCounts counts = trace.on() ? new OutputCounts(trace) : null;
    boolean out = true;
    boolean err = p.stderr() != null;
    try {
      while (out || err) {
        long polled = counts == null ? 0 : System.nanoTime();
        int ready = p.awaitOutput(out, err);
        if (counts != null) {
          counts.polls++;
          counts.pollNanos += System.nanoTime() - polled;
        }
        if ((ready & 1) != 0) {
          out = sendOnce(p, false, buf, counts);
        }
        if ((ready & 2) != 0) {
          err = sendOnce(p, true, buf, counts);
        }
      }
    } catch (IOException e) {
      LOG.fine("exec " + stream + " pump ended: " + e.getMessage());
      kill.run();
    } finally {
      closeQuietly(p.stdout());
      if (p.stderr() != null) {
        closeQuietly(p.stderr());
      }
      if (counts != null) {
        counts.noteInTrace();
      }
    }
  }

  /** How one exec's output went out, for the hop trace only. */
  private static final class OutputCounts {
    final HopTrace trace;
    int polls;
    int reads;
    int frames;
    long bytes;
    int smallest = Integer.MAX_VALUE;
    long pollNanos;
    long readNanos;
    long creditNanos;
    long sendNanos;

    OutputCounts(HopTrace trace) {
      this.trace = trace;
    }

    void noteInTrace() {
      trace.note("polls", polls);
      trace.note("reads", reads);
      trace.note("frames", frames);
      trace.note("bytes", bytes);
      trace.note("smallest-read", reads == 0 ? 0 : smallest);
      trace.note("poll-wait-us", pollNanos / 1000);
      trace.note("read-us", readNanos / 1000);
      trace.note("credit-wait-us", creditNanos / 1000);
      trace.note("send-us", sendNanos / 1000);
    }
  }

  /**
   * One read of a ready output, sent in frames of at most {@link #CHUNK} bytes; false at its end.
   * Traced, the first read that brings bytes is the hop {@code first-output}: the spawned program's
   * own start lies between it and {@code spawned}.
   */
  private boolean sendOnce(PosixSpawn p, boolean stderr, Memory buf, OutputCounts counts) throws IOException {
    long reading = counts == null ? 0 : System.nanoTime();
    int n = p.readOutput(stderr, buf, READ);
    if (counts != null) {
      counts.readNanos += System.nanoTime() - reading;
      if (n > 0 && counts.bytes == 0) {
        counts.trace.mark("first-output");
      }
    }
    if (n <= 0) {
      return false;
    }
    ExecOutput.Fd fd = stderr ? ExecOutput.Fd.STDERR : ExecOutput.Fd.STDOUT;
    for (int off = 0; off < n; off += CHUNK) {
      int len = Math.min(CHUNK, n - off);
      long t0 = counts == null ? 0 : System.nanoTime();
      window.acquire(len);
      long t1 = counts == null ? 0 : System.nanoTime();
      // Not copied: send encodes the frame (its one copy of the bytes) before it returns, and buf is
      // read into again only after.
      sink.send(Frame.newBuilder().setStreamId(stream)
          .setExecOutput(ExecOutput.newBuilder().setFd(fd).setData(UnsafeByteOperations.unsafeWrap(buf.getByteBuffer(off, len)))).build());
      if (counts != null) {
        counts.frames++;
        counts.creditNanos += t1 - t0;
        counts.sendNanos += System.nanoTime() - t1;
      }
    }
    if (counts != null) {
      counts.reads++;
      counts.bytes += n;
      counts.smallest = Math.min(counts.smallest, n);
    }
    return true;
  }

  private static void closeQuietly(InputStream in) {
    try {
      in.close();
    } catch (IOException e) {
      // a pipe's end: nothing to lose
    }
  }

  /** Sends what the program writes to {@code in} as ExecOutput on {@code fd}, until it ends. */
  Future<?> pump(InputStream in, ExecOutput.Fd fd) {
    return THREADS.submit(() -> {
      byte[] buf = new byte[CHUNK];
      try (in) {
        int n;
        while ((n = in.read(buf)) > 0) {
          window.acquire(n);
          // Not copied: send encodes the frame before it returns, and buf is refilled only after.
          sink.send(Frame.newBuilder().setStreamId(stream)
              .setExecOutput(ExecOutput.newBuilder().setFd(fd).setData(UnsafeByteOperations.unsafeWrap(buf, 0, n))).build());
        }
      } catch (IOException e) {
        LOG.fine("exec " + stream + " " + fd + " pump ended: " + e.getMessage());
        kill.run(); // nobody will read the rest: the host is gone or the stream was dropped
      }
    });
  }
}
