package dev.vmlet.common.at;

import java.util.List;

/** A parsed line: stages joined by {@code |}, each stage's stdout feeding the next one's stdin. */
public record Pipeline(List<Stage> stages) {
  public Pipeline {
    stages = List.copyOf(stages);
  }
}
