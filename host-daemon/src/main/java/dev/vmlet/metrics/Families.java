package dev.vmlet.metrics;

import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects the data points of one scrape into metric families by name, so that a collector can go
 * VM by VM and still hand the client one family per metric. Counter names are given without
 * {@code _total}: the client's text format adds it.
 */
final class Families {
  private final Map<String, GaugeSnapshot.Builder> gauges = new LinkedHashMap<>();
  private final Map<String, CounterSnapshot.Builder> counters = new LinkedHashMap<>();

  void gauge(String name, String help, double value, Labels labels) {
    gauges.computeIfAbsent(name, n -> GaugeSnapshot.builder().name(n).help(help))
        .dataPoint(GaugeSnapshot.GaugeDataPointSnapshot.builder().labels(labels).value(value).build());
  }

  void counter(String name, String help, double value, Labels labels) {
    counters.computeIfAbsent(name, n -> CounterSnapshot.builder().name(n).help(help))
        .dataPoint(CounterSnapshot.CounterDataPointSnapshot.builder().labels(labels).value(value).build());
  }

  MetricSnapshots build() {
    MetricSnapshots.Builder all = MetricSnapshots.builder();
    for (GaugeSnapshot.Builder b : gauges.values()) {
      all.metricSnapshot(b.build());
    }
    for (CounterSnapshot.Builder b : counters.values()) {
      all.metricSnapshot(b.build());
    }
    return all.build();
  }
}
