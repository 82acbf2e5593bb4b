package dev.vmlet.agent;

import com.google.protobuf.ByteString;
import dev.vmlet.proto.v1.ExecExit;
import dev.vmlet.proto.v1.ExecOutput;
import dev.vmlet.proto.v1.ExecStart;
import dev.vmlet.proto.v1.Frame;
import dev.vmlet.proto.v1.StreamError;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * Runs one ExecStart: output frames as the program produces them, then exactly one ExecExit (after
 * both pipes are drained) or a StreamError when the program cannot start.
 */
final class ExecRunner implements Runnable {
  private static final Logger LOG = Logger.getLogger(ExecRunner.class.getName());
  static final int CHUNK = 32 * 1024;

  /** Where frames go; the agent's writer to the current host. */
  interface Sink {
    void send(Frame frame) throws IOException;
  }

  private final int stream;
  private final ExecStart start;
  private final Sink sink;

  ExecRunner(int stream, ExecStart start, Sink sink) {
    this.stream = stream;
    this.start = start;
    this.sink = sink;
  }

  @Override
  public void run() {
    try {
      runOrThrow();
    } catch (IOException e) {
      LOG.warning("exec on stream " + stream + ": cannot answer the host: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void runOrThrow() throws IOException, InterruptedException {
    if (start.getArgvCount() == 0) {
      fail("argv is empty");
      return;
    }
    ProcessBuilder pb = new ProcessBuilder(start.getArgvList());
    pb.environment().putAll(start.getEnvMap());
    if (!start.getWorkingDir().isEmpty()) {
      pb.directory(new File(start.getWorkingDir()));
    }
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      fail("cannot run '" + start.getArgv(0) + "': " + e.getMessage());
      return;
    }
    p.getOutputStream().close(); // no stdin in this protocol version
    Thread out = pump(p.getInputStream(), ExecOutput.Fd.STDOUT);
    Thread err = pump(p.getErrorStream(), ExecOutput.Fd.STDERR);
    boolean timedOut = false;
    if (start.getTimeoutSeconds() > 0) {
      if (!p.waitFor(start.getTimeoutSeconds(), TimeUnit.SECONDS)) {
        timedOut = true;
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    }
    int code = p.waitFor();
    out.join();
    err.join();
    sink.send(Frame.newBuilder().setStreamId(stream)
        .setExecExit(ExecExit.newBuilder().setExitCode(timedOut ? -1 : code).setTimedOut(timedOut)).build());
  }

  private Thread pump(InputStream in, ExecOutput.Fd fd) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[CHUNK];
      try (in) {
        int n;
        while ((n = in.read(buf)) > 0) {
          sink.send(Frame.newBuilder().setStreamId(stream)
              .setExecOutput(ExecOutput.newBuilder().setFd(fd).setData(ByteString.copyFrom(buf, 0, n))).build());
        }
      } catch (IOException e) {
        LOG.fine("exec " + stream + " " + fd + " pump ended: " + e.getMessage());
      }
    }, "exec-" + stream + "-" + fd);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void fail(String message) throws IOException {
    sink.send(Frame.newBuilder().setStreamId(stream).setError(StreamError.newBuilder().setMessage(message)).build());
  }
}
