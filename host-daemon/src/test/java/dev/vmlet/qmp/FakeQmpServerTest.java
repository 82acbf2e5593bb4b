package dev.vmlet.qmp;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** The fake's wire behaviour, read raw, against what QEMU 7.2 was seen to send for the same input. */
class FakeQmpServerTest {
  @TempDir Path dir;
  private FakeQmpServer qemu;
  private AFUNIXSocket socket;
  private BufferedReader in;
  private OutputStream out;

  /** The fake, and a client that reads its lines raw. */
  @BeforeEach
  void connect() throws Exception {
    qemu = FakeQmpServer.start(dir.resolve("q.sock"));
    socket = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(dir.resolve("q.sock").toFile()));
    socket.setSoTimeout(5000);
    in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    out = socket.getOutputStream();
  }

  @AfterEach
  void close() throws Exception {
    socket.close();
    qemu.close();
  }

  @Test
  void itGreets_demandsNegotiationFirst_echoesAnyId_andEndsLinesWithCrLf() throws Exception {
    JsonObject greeting = JsonParser.parseString(in.readLine()).getAsJsonObject();
    assertThat(greeting.getAsJsonObject("QMP").getAsJsonObject("version").getAsJsonObject("qemu").get("major").getAsInt())
        .isEqualTo(7);
    assertThat(exchange("{\"execute\": \"query-status\", \"id\": \"a\"}"))
        .isEqualTo("{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Expecting capabilities negotiation with"
            + " 'qmp_capabilities'\"},\"id\":\"a\"}");
    assertThat(exchange("{\"execute\": \"qmp_capabilities\", \"id\": {\"n\": 1}}"))
        .isEqualTo("{\"return\":{},\"id\":{\"n\":1}}");
    assertThat(exchange("{\"execute\": \"qmp_capabilities\"}"))
        .isEqualTo("{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Capabilities negotiation is already complete,"
            + " command ignored\"}}");
    assertThat(exchange("[1]")).contains("QMP input must be a JSON object");
    assertThat(exchange("{\"id\": 2}")).contains("QMP input lacks member 'execute'").contains("\"id\":2");
    assertThat(exchange("{\"execute\": \"x\", \"id\": 3}")).contains("The command x has not been found");
    assertThat(qemu.commandNames()).containsExactly("query-status", "qmp_capabilities", "qmp_capabilities", "x");
  }

  @Test
  void quit_sendsShutdown_thenTheAnswer_thenCloses_asQemuDoes() throws Exception {
    in.readLine();
    exchange("{\"execute\": \"qmp_capabilities\"}");
    JsonObject shutdown = JsonParser.parseString(exchange("{\"execute\": \"quit\", \"id\": \"q\"}")).getAsJsonObject();
    assertThat(shutdown.get("event").getAsString()).isEqualTo("SHUTDOWN");
    assertThat(shutdown.getAsJsonObject("timestamp").keySet()).containsExactly("seconds", "microseconds");
    assertThat(in.readLine()).isEqualTo("{\"return\":{},\"id\":\"q\"}");
    assertThat(in.readLine()).isNull();
    assertThat(qemu.awaitCommand("quit", Duration.ofSeconds(5)).get("id").getAsString()).isEqualTo("q");
  }

  /** Sends one line and returns the next line the server sends, checking it ends in CR LF. */
  private String exchange(String line) throws Exception {
    out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
    out.flush();
    StringBuilder b = new StringBuilder();
    int c;
    while ((c = in.read()) != '\n') {
      assertThat(c).as("the server closed the connection after: " + b).isNotEqualTo(-1);
      b.append((char) c);
    }
    assertThat(b.toString()).endsWith("\r");
    return b.substring(0, b.length() - 1);
  }
}
