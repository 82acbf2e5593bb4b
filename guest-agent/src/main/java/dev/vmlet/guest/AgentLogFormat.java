package dev.vmlet.guest;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The agent's log line: {@code vmlet-agent: LEVEL message}, then the stack trace of a thrown
 * exception, if any. What {@code SimpleFormatter} with the format {@code "vmlet-agent: %4$s %5$s%6$s%n"}
 * printed, without what that costs at the first line although the format never shows it: the
 * record's time zone (the time-zone database read and parsed), its caller (a stack walk) and the
 * level's localised name (a resource bundle). Under TCG those took about 0.35 s of the agent's
 * start before its first Hello (docs/benchmarks.md).
 */
final class AgentLogFormat extends Formatter {
  /** Puts this format on the root logger's handlers (the console handler of the JDK's logging.properties). */
  static void install() {
    for (Handler h : Logger.getLogger("").getHandlers()) {
      h.setFormatter(new AgentLogFormat());
    }
  }

  @Override
  public String format(LogRecord record) {
    StringBuilder line = new StringBuilder("vmlet-agent: ").append(record.getLevel().getName()).append(' ')
        .append(formatMessage(record));
    if (record.getThrown() != null) {
      StringWriter trace = new StringWriter();
      try (PrintWriter w = new PrintWriter(trace)) {
        w.println();
        record.getThrown().printStackTrace(w);
      }
      line.append(trace);
    }
    return line.append(System.lineSeparator()).toString();
  }
}
