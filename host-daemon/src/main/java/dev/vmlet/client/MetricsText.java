package dev.vmlet.client;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a daemon's Prometheus endpoint for {@code vmlet top}: fetches {@code /metrics} and parses
 * the text exposition format (version 0.0.4) into samples. Only what a reader needs: comments are
 * skipped, label values unescaped ({@code \\}, {@code \"}, {@code \n}), timestamps ignored.
 */
public final class MetricsText {
  private MetricsText() {}

  /** One line of the format: {@code name{labels} value}. */
  public record Sample(String name, Map<String, String> labels, double value) {
    public String label(String key) {
      return labels.getOrDefault(key, "");
    }
  }

  /** GETs {@code http://ADDRESS/metrics}, waiting at most {@code timeout} in all. */
  public static List<Sample> fetch(String address, Duration timeout) throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().connectTimeout(timeout).build();
    HttpRequest get = HttpRequest.newBuilder(URI.create("http://" + address + "/metrics")).timeout(timeout)
        .header("Accept", "text/plain; version=0.0.4").GET().build();
    HttpResponse<String> r = http.send(get, HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("http://" + address + "/metrics answered " + r.statusCode());
    }
    return parse(r.body());
  }

  /** The samples of an exposition; a line that does not parse is an error naming it. */
  public static List<Sample> parse(String text) {
    List<Sample> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      out.add(line(line));
    }
    return out;
  }

  private static Sample line(String line) {
    int brace = line.indexOf('{');
    int space = line.indexOf(' ');
    Map<String, String> labels = new LinkedHashMap<>();
    String name;
    int rest;
    if (brace >= 0 && (space < 0 || brace < space)) {
      name = line.substring(0, brace);
      rest = labels(line, brace + 1, labels);
    } else if (space > 0) {
      name = line.substring(0, space);
      rest = space;
    } else {
      throw new IllegalArgumentException("not a metrics line: " + line);
    }
    String[] valueAndTime = line.substring(rest).strip().split("\\s+");
    return new Sample(name, labels, value(valueAndTime[0]));
  }

  /** Reads {@code k="v",...} from {@code i} into {@code out}; returns the index after the closing brace. */
  private static int labels(String line, int i, Map<String, String> out) {
    while (i < line.length() && line.charAt(i) != '}') {
      int eq = line.indexOf('=', i);
      String key = line.substring(i, eq).strip();
      StringBuilder v = new StringBuilder();
      int j = eq + 2; // past ="
      for (; line.charAt(j) != '"'; j++) {
        char c = line.charAt(j);
        if (c == '\\') {
          char n = line.charAt(++j);
          v.append(n == 'n' ? '\n' : n);
        } else {
          v.append(c);
        }
      }
      out.put(key, v.toString());
      i = j + 1;
      if (i < line.length() && line.charAt(i) == ',') {
        i++;
      }
    }
    if (i >= line.length()) {
      throw new IllegalArgumentException("unclosed labels: " + line);
    }
    return i + 1;
  }

  private static double value(String v) {
    return switch (v) {
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      case "NaN" -> Double.NaN;
      default -> Double.parseDouble(v);
    };
  }
}
