package dev.vmlet.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hop lines that the agent ({@code HopTrace}) and the daemon ({@code ExecCalls}) log with
 * tracing on: {@code PREFIX: hop 120, hop 2400 ...}, microseconds per hop, by stream id.
 */
final class HopLines {
  private static final Pattern HOP = Pattern.compile("([a-z-]+) (\\d+)");

  private HopLines() {}

  /** Every line matching {@code prefix} (a pattern whose group 1 is the stream id): its hops in order. */
  static Map<Integer, Map<String, Long>> parse(String log, String prefix) {
    Map<Integer, Map<String, Long>> byStream = new LinkedHashMap<>();
    Matcher m = Pattern.compile(prefix + "([^\\n(]*)").matcher(log);
    while (m.find()) {
      Map<String, Long> hops = new LinkedHashMap<>();
      Matcher h = HOP.matcher(m.group(2));
      while (h.find()) {
        hops.put(h.group(1), Long.parseLong(h.group(2)));
      }
      byStream.put(Integer.parseInt(m.group(1)), hops);
    }
    return byStream;
  }

  /**
   * The keys of the agent's trace that are counts or sums of an exec's output ({@code
   * HopTrace.note}), not times since the frame was read.
   */
  static final Set<String> COUNTS = Set.of("polls", "reads", "frames", "bytes", "smallest-read", "poll-wait-us", "read-us", "credit-wait-us", "send-us");

  /** The same lines with their counts left out: times only. */
  static Map<Integer, Map<String, Long>> hopsOnly(Map<Integer, Map<String, Long>> byStream) {
    Map<Integer, Map<String, Long>> out = new LinkedHashMap<>();
    byStream.forEach((id, hops) -> {
      Map<String, Long> times = new LinkedHashMap<>(hops);
      times.keySet().removeAll(COUNTS);
      out.put(id, times);
    });
    return out;
  }

  /** Each hop's time since the hop before it (the first: since the start), by stream. */
  static Map<Integer, Map<String, Long>> steps(Map<Integer, Map<String, Long>> byStream) {
    Map<Integer, Map<String, Long>> out = new LinkedHashMap<>();
    byStream.forEach((id, hops) -> {
      Map<String, Long> s = new LinkedHashMap<>();
      long before = 0;
      for (var e : hops.entrySet()) {
        s.put(e.getKey(), e.getValue() - before);
        before = e.getValue();
      }
      out.put(id, s);
    });
    return out;
  }

  /** The median of each hop over the streams, in the order hops first appear. */
  static Map<String, Double> medians(Map<Integer, Map<String, Long>> byStream) {
    Map<String, List<Double>> all = new LinkedHashMap<>();
    for (Map<String, Long> hops : byStream.values()) {
      hops.forEach((k, v) -> all.computeIfAbsent(k, x -> new ArrayList<>()).add(v.doubleValue()));
    }
    Map<String, Double> out = new LinkedHashMap<>();
    all.forEach((k, v) -> out.put(k, Bench.median(v)));
    return out;
  }
}
