package dev.vmlet.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The fault suite's shared parts: how many cycles (the short form runs in every build, the long
 * form with {@code -Dfaults.long=true}, see {@code ./scripts/faults}), and one report line per
 * fault: what was done, how often, what survived, what was lost.
 */
public final class Faults {
  private Faults() {}

  /** True for the long form ({@code -Dfaults.long=true}). */
  public static boolean longForm() {
    return Boolean.getBoolean("faults.long");
  }

  /** The short or the long form's count. */
  public static int pick(int shortForm, int longForm) {
    return longForm() ? longForm : shortForm;
  }

  /**
   * Prints {@code FAULT <fault>: <figure>} and appends it to {@code target/faults.txt}, which
   * {@code ./scripts/faults} shows at the end.
   */
  public static void report(String fault, String figure) {
    keep("faults.txt", "FAULT " + fault + " (" + (longForm() ? "long" : "short") + " form): " + figure);
  }

  /** Prints a figure line and appends it to {@code target/<file>} (the fault suite's and the benchmarks' record). */
  public static void keep(String file, String line) {
    System.out.println(line);
    try {
      Files.write(Path.of("target", file), List.of(line), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      System.out.println("(not kept in target/" + file + ": " + e.getMessage() + ")");
    }
  }

  /** Median and maximum of some milliseconds, as "median N ms, max M ms". */
  public static String medianMax(List<Long> millis) {
    if (millis.isEmpty()) {
      return "none";
    }
    List<Long> sorted = millis.stream().sorted().toList();
    return "median " + sorted.get(sorted.size() / 2) + " ms, max " + sorted.get(sorted.size() - 1) + " ms";
  }
}
