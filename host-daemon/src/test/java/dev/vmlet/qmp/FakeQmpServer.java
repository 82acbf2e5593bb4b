package dev.vmlet.qmp;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A QMP server on a unix socket that speaks the protocol as QEMU 7.2 does (compared line by line
 * with a real one): a greeting, capabilities negotiation before anything else, one answer per
 * command carrying the command's {@code id}, errors as {@code {"error": {"class", "desc"}}},
 * events with a timestamp, and the connection ending when QEMU exits. Like QEMU's monitor it serves
 * one client at a time; the next waits until that one is gone.
 *
 * <pre>
 *   S: {"QMP": {"version": {"qemu": {...}, "package": "..."}, "capabilities": ["oob"]}}
 *   C: {"execute": "qmp_capabilities", "id": "1"}
 *   S: {"return": {}, "id": "1"}
 *   C: {"execute": "query-status", "id": "2"}
 *   S: {"return": {"status": "running", ...}, "id": "2"}    or
 *   S: {"id": "2", "error": {"class": "GenericError", "desc": "..."}}
 *   S: {"timestamp": {"seconds": N, "microseconds": N}, "event": "STOP"}    (any time after negotiation)
 * </pre>
 * Every line ends with "\r\n", as QEMU's do.
 *
 * <p>Tests script the answer per command name, including none at all (a hung QEMU). Unscripted
 * commands fail with {@code CommandNotFound}, except {@code quit}, which ends the connection as QEMU
 * does: a SHUTDOWN event, the answer, then the socket closes. Every command received is recorded.
 */
public final class FakeQmpServer implements Closeable {
  static final String GREETING = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7},"
      + " \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}";

  /** How the fake answers one command: through {@link Command#answer} or {@link Command#fail}, later, or never. */
  @FunctionalInterface
  public interface Handler {
    void handle(Command command) throws IOException;
  }

  /** One command received, and the connection it came on. */
  public final class Command {
    private final JsonObject message;
    private final Connection connection;

    private Command(JsonObject message, Connection connection) {
      this.message = message;
      this.connection = connection;
    }

    public String name() {
      return message.get("execute").getAsString();
    }

    /** Its arguments; empty when it had none. */
    public JsonObject arguments() {
      return message.has("arguments") ? message.getAsJsonObject("arguments") : new JsonObject();
    }

    /** Answers {@code {"return": value}}. */
    public void answer(JsonElement value) throws IOException {
      JsonObject o = new JsonObject();
      o.add("return", value);
      connection.send(withId(o));
    }

    /** Answers {@code {"error": {"class": errorClass, "desc": desc}}}. */
    public void fail(String errorClass, String desc) throws IOException {
      connection.send(withId(error(errorClass, desc)));
    }

    /** Sends an event on this command's connection (before its answer, as QEMU does for cont and quit). */
    public void event(String name, JsonObject data) throws IOException {
      connection.send(eventMessage(name, data));
    }

    /** Ends the connection, as QEMU exiting does. */
    public void closeConnection() {
      connection.close();
    }

    private JsonObject withId(JsonObject o) {
      if (message.has("id")) {
        o.add("id", message.get("id"));
      }
      return o;
    }
  }

  private final Path socketPath;
  private final AFUNIXServerSocket server;
  private final Map<String, Handler> handlers = new ConcurrentHashMap<>();
  private final List<JsonObject> received = new ArrayList<>();
  private final Thread acceptor;
  private volatile Connection current;
  private volatile int connections;
  private volatile boolean closed;
  private volatile boolean mute;
  private volatile List<String> beforeGreeting = List.of();

  private FakeQmpServer(Path socketPath) throws IOException {
    this.socketPath = socketPath;
    this.server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(socketPath.toFile()));
    this.acceptor = new Thread(this::acceptLoop, "fake-qmp");
    this.acceptor.setDaemon(true);
    on("quit", c -> {
      JsonObject data = new JsonObject();
      data.addProperty("guest", false);
      data.addProperty("reason", "host-qmp-quit");
      c.event("SHUTDOWN", data);
      c.answer(new JsonObject());
      c.closeConnection();
    });
  }

  /** Listens on {@code socketPath} (which must not exist) until {@link #close()}. */
  public static FakeQmpServer start(Path socketPath) throws IOException {
    FakeQmpServer s = new FakeQmpServer(socketPath);
    s.acceptor.start();
    return s;
  }

  /** Answers {@code command} by {@code handler} from now on. */
  public FakeQmpServer on(String command, Handler handler) {
    handlers.put(command, handler);
    return this;
  }

  /** Answers {@code command} with {@code {"return": value}}. */
  public FakeQmpServer answer(String command, JsonElement value) {
    return on(command, c -> c.answer(value));
  }

  /** Answers {@code command} with an error of QEMU's {@code errorClass}. */
  public FakeQmpServer fail(String command, String errorClass, String desc) {
    return on(command, c -> c.fail(errorClass, desc));
  }

  /**
   * While {@code on}, a client that connects gets no greeting and no answer, as from a QEMU stopped
   * with SIGSTOP (the kernel still accepts its connections); one connected after it is off is served.
   */
  public FakeQmpServer mute(boolean on) {
    mute = on;
    return this;
  }

  /**
   * A client that connects gets these events before the greeting, as QEMU 7.2's monitor may send
   * one emitted while it opens the client's session (a RESUME of a guest that started just as the
   * daemon connected, seen in a full test run).
   */
  public FakeQmpServer eventsBeforeGreeting(String... names) {
    beforeGreeting = List.of(names);
    return this;
  }

  /** Never answers {@code command}: a QEMU that is hung, or too busy. */
  public FakeQmpServer neverAnswer(String command) {
    return on(command, c -> { });
  }

  /** Sends an event to the client that has negotiated; there must be one. */
  public void event(String name, JsonObject data) throws IOException {
    Connection c = current;
    if (c == null || !c.negotiated) {
      throw new IllegalStateException("no QMP client in command mode to send " + name + " to");
    }
    c.send(eventMessage(name, data));
  }

  /** Ends the client's connection, as QEMU exiting does; the server accepts the next client. */
  public void closeConnection() {
    Connection c = current;
    if (c != null) {
      c.close();
    }
  }

  /** The commands received so far, as sent (with their ids), oldest first. */
  public synchronized List<JsonObject> commands() {
    return received.stream().map(JsonObject::deepCopy).toList();
  }

  /** The names of the commands received so far, oldest first. */
  public synchronized List<String> commandNames() {
    return received.stream().map(o -> o.get("execute").getAsString()).toList();
  }

  /** How many clients have connected so far. */
  public int connections() {
    return connections;
  }

  /**
   * Waits until a command named {@code name} has arrived, at most {@code bound}.
   *
   * @throws AssertionError when none came in time
   */
  public synchronized JsonObject awaitCommand(String name, Duration bound) throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    while (true) {
      for (JsonObject o : received) {
        if (o.get("execute").getAsString().equals(name)) {
          return o.deepCopy();
        }
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        throw new AssertionError("no QMP " + name + " within " + bound.toMillis() + " ms; got " + commandNames());
      }
      wait(Math.max(1, left / 1_000_000));
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    closeConnection();
    server.close();
    Files.deleteIfExists(socketPath);
  }

  private void acceptLoop() {
    while (!closed) {
      try (Socket s = server.accept()) {
        connections++;
        Connection c = new Connection(s);
        current = c;
        c.serve();
      } catch (IOException e) {
        // the server was closed, or the client went away: take the next one unless closed
      } finally {
        current = null;
      }
    }
  }

  private synchronized void record(JsonObject command) {
    received.add(command.deepCopy());
    notifyAll();
  }

  private static JsonObject error(String errorClass, String desc) {
    JsonObject e = new JsonObject();
    e.addProperty("class", errorClass);
    e.addProperty("desc", desc);
    JsonObject o = new JsonObject();
    o.add("error", e);
    return o;
  }

  private static JsonObject eventMessage(String name, JsonObject data) {
    long micros = System.currentTimeMillis() * 1000;
    JsonObject ts = new JsonObject();
    ts.addProperty("seconds", micros / 1_000_000);
    ts.addProperty("microseconds", micros % 1_000_000);
    JsonObject o = new JsonObject();
    o.add("timestamp", ts);
    o.addProperty("event", name);
    if (data != null) {
      o.add("data", data);
    }
    return o;
  }

  /** One client: read commands, answer them as QEMU's monitor does. */
  private final class Connection {
    private final Socket socket;
    private final OutputStream out;
    private volatile boolean negotiated;

    Connection(Socket socket) throws IOException {
      this.socket = socket;
      this.out = socket.getOutputStream();
    }

    void serve() throws IOException {
      if (mute) {
        socket.getInputStream().transferTo(OutputStream.nullOutputStream()); // until the client gives up
        return;
      }
      for (String name : beforeGreeting) {
        send(eventMessage(name, null));
      }
      send(JsonParser.parseString(GREETING).getAsJsonObject());
      BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null) {
        JsonElement parsed;
        try {
          parsed = JsonParser.parseString(line);
        } catch (RuntimeException e) {
          send(error("GenericError", "JSON parse error, " + e.getMessage()));
          continue;
        }
        if (!parsed.isJsonObject()) {
          send(error("GenericError", "QMP input must be a JSON object"));
          continue;
        }
        command(parsed.getAsJsonObject());
      }
    }

    private void command(JsonObject msg) throws IOException {
      Command c = new Command(msg, this);
      if (!msg.has("execute")) {
        c.fail("GenericError", "QMP input lacks member 'execute'");
        return;
      }
      record(msg);
      if (c.name().equals("qmp_capabilities")) {
        if (negotiated) {
          c.fail("CommandNotFound", "Capabilities negotiation is already complete, command ignored");
        } else {
          negotiated = true;
          c.answer(new JsonObject());
        }
      } else if (!negotiated) {
        c.fail("CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
      } else if (handlers.containsKey(c.name())) {
        handlers.get(c.name()).handle(c);
      } else {
        c.fail("CommandNotFound", "The command " + c.name() + " has not been found");
      }
    }

    void send(JsonObject message) throws IOException {
      synchronized (out) {
        out.write((message + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
      }
    }

    void close() {
      try {
        socket.close();
      } catch (IOException e) {
        // already gone
      }
    }
  }
}
