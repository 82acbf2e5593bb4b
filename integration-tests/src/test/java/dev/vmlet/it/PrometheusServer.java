package dev.vmlet.it;

import dev.vmlet.common.testing.Poll;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Prometheus (Debian's package) for a test: on 127.0.0.1 and a free port, with a config
 * the test writes that scrapes one target every second, its data in the test's directory. Ended
 * by its pid on close.
 */
final class PrometheusServer implements AutoCloseable {
  static final String BINARY = "/usr/bin/prometheus";
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final Process process;
  final int port;
  final Path log;

  private PrometheusServer(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  /** Skips the test, saying why, when Prometheus is not installed (scripts/lib/deps.sh installs it). */
  static PrometheusServer scraping(String target, Path dir) throws Exception {
    Assumptions.assumeTrue(Files.isExecutable(Path.of(BINARY)), "no " + BINARY + ": apt-get install prometheus (scripts/lib/deps.sh)");
    Files.createDirectories(dir);
    Path config = dir.resolve("prometheus.yml");
    Files.writeString(config, """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
        scrape_configs:
          - job_name: vmlet
            static_configs:
              - targets: ['%s']
        """.formatted(target));
    int port = ServerProcess.freeLoopbackPort();
    Path log = dir.resolve("prometheus.log");
    Process p = new ProcessBuilder(BINARY, "--config.file=" + config, "--storage.tsdb.path=" + dir.resolve("tsdb"),
        "--web.listen-address=127.0.0.1:" + port, "--log.level=warn")
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(new File(log.toString()))).start();
    PrometheusServer s = new PrometheusServer(p, port, log);
    try {
      s.awaitReady(Duration.ofSeconds(60));
    } catch (Exception | AssertionError e) {
      s.close();
      throw e;
    }
    return s;
  }

  private void awaitReady(Duration bound) throws Exception {
    ServerProcess.awaitReady("prometheus to answer /-/ready", process, log, bound, () -> get("/-/ready").statusCode() == 200);
  }

  private HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** The value of an instant PromQL query with one result (e.g. a sum); empty when it has none. */
  OptionalDouble query(String promql) throws IOException, InterruptedException {
    HttpResponse<String> r = get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8));
    JsonObject body = JsonParser.parseString(r.body()).getAsJsonObject();
    if (r.statusCode() != 200 || !"success".equals(body.get("status").getAsString())) {
      throw new AssertionError("query " + promql + ": " + r.statusCode() + " " + r.body());
    }
    JsonArray result = body.getAsJsonObject("data").getAsJsonArray("result");
    if (result.isEmpty()) {
      return OptionalDouble.empty();
    }
    return OptionalDouble.of(Double.parseDouble(result.get(0).getAsJsonObject().getAsJsonArray("value").get(1).getAsString()));
  }

  /** Polls {@code promql} until it is above {@code floor}, for at most {@code bound}; returns the value seen. */
  double awaitAbove(String promql, double floor, Duration bound) throws Exception {
    OptionalDouble[] last = {OptionalDouble.empty()};
    try {
      return Poll.forValue(promql + " above " + floor, bound, () -> {
        last[0] = query(promql);
        return last[0].isPresent() && last[0].getAsDouble() > floor ? last[0].getAsDouble() : null;
      });
    } catch (AssertionError e) {
      throw new AssertionError(promql + " stayed at " + last[0] + " (not above " + floor + ") for " + bound, e);
    }
  }

  @Override
  public void close() throws Exception {
    ServerProcess.stop(process);
  }
}
