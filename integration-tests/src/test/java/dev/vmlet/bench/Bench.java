package dev.vmlet.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import dev.vmlet.faults.Faults;
import java.awt.Color;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmarks' shared parts: figures as median with min and max over runs, one {@code BENCH}
 * line each (also appended to {@code target/bench.txt}), and one PNG bar chart per comparison in
 * {@code integration-tests/target/charts/}. The committed charts in {@code docs/benchmarks/} change
 * only when asked ({@code -Dbench.charts=../docs/benchmarks}): a run at another load or with some
 * parts left out would otherwise overwrite the figures the docs' tables were written from.
 */
final class Bench {
  private Bench() {}

  static int runs() {
    return Integer.getInteger("bench.runs", 5);
  }

  static double median(List<Double> xs) {
    List<Double> s = xs.stream().sorted().toList();
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  /** The p-th percentile (0-100) by nearest rank. */
  static double percentile(List<Double> xs, double p) {
    List<Double> s = xs.stream().sorted().toList();
    int rank = (int) Math.ceil(p / 100 * s.size());
    return s.get(Math.max(0, Math.min(s.size() - 1, rank - 1)));
  }

  /** "median M (min A, max B, N runs)". */
  static String stats(List<Double> xs, String format) {
    return String.format("median " + format + " (min " + format + ", max " + format + ", %d runs)", median(xs),
        xs.stream().min(Double::compare).orElseThrow(), xs.stream().max(Double::compare).orElseThrow(), xs.size());
  }

  /** A piece of work to time. */
  interface Timed {
    void run() throws Exception;
  }

  /** Runs {@code work} and returns {@code bytes} over its wall time, in MB/s. */
  static double mbPerSecond(long bytes, Timed work) throws Exception {
    long t0 = System.nanoTime();
    work.run();
    return bytes / 1e6 / ((System.nanoTime() - t0) / 1e9);
  }

  static void report(String what, String figure) {
    Faults.keep("bench.txt", "BENCH " + what + ": " + figure);
  }

  private static final Pattern RUN_INIT = Pattern.compile("\\[\\s*(\\d+\\.\\d+)\\] Run /init");

  /** The kernel's own time from its start to running /init, from a console log; null when not there. */
  static Double kernelToInit(String consoleLog) throws IOException {
    Matcher m = RUN_INIT.matcher(Files.readString(Path.of(consoleLog)));
    return m.find() ? Double.parseDouble(m.group(1)) : null;
  }

  /** One comparison's chart: bars of the given medians, one series per group of bars. */
  static final class Chart {
    private final String file;
    private final String title;
    private final String yAxis;
    private final Map<String, Map<String, Double>> series = new LinkedHashMap<>();

    Chart(String file, String title, String yAxis) {
      this.file = file;
      this.title = title;
      this.yAxis = yAxis;
    }

    Chart bar(String series, String category, double value) {
      this.series.computeIfAbsent(series, k -> new LinkedHashMap<>()).put(category, value);
      return this;
    }

    /** Writes the PNG; returns its path (null, and nothing written, when no figure was taken). */
    Path write() throws IOException {
      if (series.isEmpty()) {
        return null;
      }
      Path dir = Path.of(System.getProperty("bench.charts", "target/charts"));
      Files.createDirectories(dir);
      CategoryChart chart = new CategoryChartBuilder().width(900).height(480).title(title).yAxisTitle(yAxis).build();
      chart.getStyler().setLegendVisible(series.size() > 1);
      chart.getStyler().setLabelsVisible(true);
      chart.getStyler().setDecimalPattern("#,##0.##");
      chart.getStyler().setChartBackgroundColor(Color.WHITE);
      List<String> categories = new ArrayList<>();
      series.values().forEach(m -> m.keySet().stream().filter(c -> !categories.contains(c)).forEach(categories::add));
      for (Map.Entry<String, Map<String, Double>> s : series.entrySet()) {
        List<Double> ys = categories.stream().map(c -> s.getValue().getOrDefault(c, 0.0)).toList();
        chart.addSeries(s.getKey(), categories, ys);
      }
      Path out = dir.resolve(file);
      BitmapEncoder.saveBitmap(chart, out.toString(), BitmapEncoder.BitmapFormat.PNG);
      System.out.println("chart: " + out.toAbsolutePath().normalize());
      return out;
    }
  }
}
