package dev.vmlet.qmp;

import dev.vmlet.fs.UnixSockets;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A client for QEMU's machine protocol over its unix socket. Negotiates capabilities on connect,
 * matches each command to its answer by id, and hands events to a listener on the reader thread.
 * Thread-safe; every command waits at most its timeout.
 */
public final class QmpClient implements Closeable {
  private static final Logger LOG = Logger.getLogger(QmpClient.class.getName());

  private final AFUNIXSocket socket;
  private final OutputStream out;
  private final BufferedReader in;
  private final Consumer<QmpEvent> events;
  private final Runnable onClose;
  private final Map<String, CompletableFuture<JsonElement>> pending = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final List<QmpEvent> early = new ArrayList<>(); // sent before the greeting; the reader hands them on first
  private final Thread reader;
  private volatile boolean closed;

  private QmpClient(AFUNIXSocket socket, Consumer<QmpEvent> events, Runnable onClose) throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    this.events = events;
    this.onClose = onClose;
    this.reader = new Thread(this::readLoop, "qmp-reader");
    this.reader.setDaemon(true);
  }

  /**
   * Connects, reads the greeting and negotiates capabilities.
   *
   * @param events called on the reader thread for each event
   * @param onClose called once when the socket closes (QEMU exited or {@link #close()})
   */
  public static QmpClient connect(Path socketPath, Duration timeout, Consumer<QmpEvent> events, Runnable onClose)
      throws IOException {
    AFUNIXSocket s;
    try {
      s = UnixSockets.connect(socketPath, timeout);
    } catch (IOException e) {
      throw new QmpException("cannot connect to QMP at " + socketPath + ": " + e.getMessage(), e);
    }
    try {
      s.setSoTimeout((int) timeout.toMillis());
      QmpClient c = new QmpClient(s, events, onClose);
      c.readGreeting(socketPath, timeout);
      s.setSoTimeout(0);
      c.reader.start();
      c.execute("qmp_capabilities", null, timeout);
      return c;
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e instanceof QmpException q ? q : new QmpException("cannot connect to QMP at " + socketPath + ": " + e.getMessage(), e);
    }
  }

  /**
   * Reads up to the greeting. An event may come first: in QEMU 7.2 an event emitted on the main
   * thread while the monitor's I/O thread opens a new client's session can reach that client before
   * the greeting (a data race in the monitor, which a patch posted to qemu-devel in December 2025
   * puts under a lock; seen here as a guest's RESUME while the daemon connected to a QEMU that was
   * starting). Such events are kept, and the listener gets them first.
   */
  private void readGreeting(Path socketPath, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String line;
      try {
        line = in.readLine();
      } catch (java.net.SocketTimeoutException e) {
        throw noGreeting(socketPath, timeout);
      }
      JsonObject o = line == null ? null : parseObject(line);
      if (o != null && o.has("QMP")) {
        return;
      }
      if (o == null || !o.has("event")) {
        throw new QmpException("", "not a QMP greeting from " + socketPath + ": " + line);
      }
      if (System.nanoTime() - deadline > 0) {
        throw noGreeting(socketPath, timeout); // events, and never the greeting
      }
      early.add(event(o));
    }
  }

  private static QmpException noGreeting(Path socketPath, Duration timeout) {
    return new QmpException("", "QEMU sent no QMP greeting on " + socketPath + " within " + timeout.toMillis()
        + " ms (busy, or stopped)");
  }

  private static JsonObject parseObject(String line) {
    try {
      JsonElement e = JsonParser.parseString(line);
      return e.isJsonObject() ? e.getAsJsonObject() : null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static QmpEvent event(JsonObject o) {
    return new QmpEvent(o.get("event").getAsString(), o.has("data") ? o.getAsJsonObject("data") : new JsonObject());
  }

  private void deliver(QmpEvent e) {
    try {
      events.accept(e);
    } catch (RuntimeException x) {
      LOG.warning("QMP event listener failed on " + e.name() + ": " + x);
    }
  }

  /** Runs a command and returns its "return" value. */
  public JsonElement execute(String command, JsonObject arguments, Duration timeout) throws QmpException {
    if (closed) {
      throw new QmpException("", "QMP connection is closed");
    }
    String id = Long.toString(ids.incrementAndGet());
    JsonObject msg = new JsonObject();
    msg.addProperty("execute", command);
    if (arguments != null) {
      msg.add("arguments", arguments);
    }
    msg.addProperty("id", id);
    CompletableFuture<JsonElement> f = new CompletableFuture<>();
    pending.put(id, f);
    try {
      synchronized (out) {
        out.write((msg + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
      }
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (IOException e) {
      throw new QmpException("QMP " + command + " failed to send: " + e.getMessage(), e);
    } catch (TimeoutException e) {
      throw new QmpException(QmpException.NO_ANSWER, "QMP " + command + " got no answer within " + timeout.toMillis() + " ms");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof QmpException q) {
        throw q;
      }
      throw new QmpException("QMP " + command + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new QmpException("interrupted while waiting for QMP " + command, e);
    } finally {
      pending.remove(id);
    }
  }

  private void readLoop() {
    try {
      early.forEach(this::deliver);
      early.clear();
      String line;
      while ((line = in.readLine()) != null) {
        JsonObject o;
        try {
          o = JsonParser.parseString(line).getAsJsonObject();
        } catch (RuntimeException e) {
          LOG.warning("ignoring unparseable QMP line: " + line);
          continue;
        }
        if (o.has("event")) {
          deliver(event(o));
          continue;
        }
        CompletableFuture<JsonElement> f = o.has("id") ? pending.get(o.get("id").getAsString()) : null;
        if (f == null) {
          continue;
        }
        if (o.has("error")) {
          JsonObject err = o.getAsJsonObject("error");
          f.completeExceptionally(new QmpException(
              err.has("class") ? err.get("class").getAsString() : "",
              err.has("desc") ? err.get("desc").getAsString() : err.toString()));
        } else {
          f.complete(o.has("return") ? o.get("return") : new JsonObject());
        }
      }
    } catch (IOException e) {
      if (!closed) {
        LOG.fine("QMP read ended: " + e.getMessage());
      }
    } finally {
      closed = true;
      QmpException gone = new QmpException("", "QMP connection closed (QEMU exited?)");
      pending.values().forEach(f -> f.completeExceptionally(gone));
      try {
        socket.close();
      } catch (IOException ignored) {
        // closing after the peer went away
      }
      onClose.run();
    }
  }

  public boolean isClosed() {
    return closed;
  }

  @Override
  public void close() throws IOException {
    closed = true;
    socket.close();
  }
}
