package dev.vmlet.at;

import dev.vmlet.agent.AgentFiles;
import dev.vmlet.agent.AgentLink;
import dev.vmlet.at.QueuedSink.Held;
import dev.vmlet.common.at.Redirect;
import dev.vmlet.proto.agent.v1.FileWriteStart;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * The files of one line's redirects: pushes for {@code >}, {@code >>} and {@code 2>} ({@link
 * FileSink}), pulls that feed a stage for {@code <}. Each is a piece of file work the line waits
 * for; a cancelled line aborts every push, so no redirected file changes.
 */
final class FileRedirects {
  /** A pull into a stage's stdin blocks on both links: each gets its own thread, never a shared pool's. */
  private static final Executor OWN_THREAD = r -> {
    Thread t = new Thread(r, "line-file");
    t.setDaemon(true);
    t.start();
  };
  private final long timeoutSeconds;
  private final Held held;
  private final List<FileSink> sinks = new ArrayList<>();
  private final List<CompletableFuture<?>> work = new ArrayList<>();

  FileRedirects(long timeoutSeconds, Held held) {
    this.timeoutSeconds = timeoutSeconds;
    this.held = held;
  }

  /** A redirect's file for errors: {@code @vm /path}; {@code own} is the stage's VM when the redirect names none. */
  private static String where(Redirect r, String own) {
    return "@" + (r.target() == null ? own : r.target().name()) + " " + r.path();
  }

  /** '>', '>>' or '2>': a push of the stream into the file on {@code to}. */
  FileSink sink(Redirect r, AgentLink to, String own, int producers) throws IOException {
    FileWriteStart start = FileWriteStart.newBuilder().setPath(r.path()).setAppend(r.kind() == Redirect.Kind.APPEND).build();
    FileSink sink;
    try {
      sink = new FileSink(to, start, producers, held);
    } catch (IOException e) {
      throw new IOException("writing " + where(r, own) + ": " + e.getMessage(), e);
    }
    work.add(sink.result().handle((done, e) -> {
      if (e != null) {
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        throw new CompletionException(new IOException("writing " + where(r, own) + ": " + cause.getMessage(), cause));
      }
      return done;
    }));
    synchronized (sinks) {
      sinks.add(sink);
    }
    return sink;
  }

  /** '<': the file's content becomes the stage's stdin, then end of input. */
  void feed(Redirect r, String own, AgentLink from, AgentLink stage, int stageId) {
    work.add(CompletableFuture.runAsync(() -> {
      try {
        AgentFiles.pull(from, r.path(), new OutputStream() {
          @Override
          public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
          }

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            stage.execInput(stageId, b, off, len, false);
          }
        }, info -> { }, Duration.ofSeconds(timeoutSeconds));
        stage.execInput(stageId, new byte[0], 0, 0, true);
      } catch (IOException e) {
        try {
          stage.execCancel(stageId);
        } catch (IOException ignored) {
          // gone
        }
        throw new CompletionException(new IOException("reading " + where(r, own) + ": " + e.getMessage(), e));
      }
    }, OWN_THREAD));
  }

  /** The file work the line waits for before its result. */
  List<CompletableFuture<?>> work() {
    return work;
  }

  /** Cancels every push: no redirected file changes. */
  void abortAll() {
    synchronized (sinks) {
      sinks.forEach(FileSink::abort);
    }
  }
}
