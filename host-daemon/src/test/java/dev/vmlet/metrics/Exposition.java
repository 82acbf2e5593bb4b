package dev.vmlet.metrics;

import dev.vmlet.client.MetricsText;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** A registry scraped as the HTTP endpoint would write it, and read back as {@code vmlet top} reads it. */
final class Exposition {
  private Exposition() {}

  static String text(PrometheusRegistry registry) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    PrometheusTextFormatWriter.create().write(out, registry.scrape());
    return out.toString(StandardCharsets.UTF_8);
  }

  static List<MetricsText.Sample> samples(PrometheusRegistry registry) throws IOException {
    return MetricsText.parse(text(registry));
  }

  /** The value of the one sample with this name and these labels (among others); NaN when there is none. */
  static double value(List<MetricsText.Sample> samples, String name, Map<String, String> labels) {
    return samples.stream().filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet()))
        .mapToDouble(MetricsText.Sample::value).findFirst().orElse(Double.NaN);
  }
}
