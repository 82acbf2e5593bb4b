package dev.vmlet.cli;

import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** One line per event: time, level, message. */
final class Logging {
  /** Held so that its level sticks: JUL keeps loggers only weakly. */
  private static final Logger VMLET = Logger.getLogger("dev.vmlet");

  private Logging() {}

  static void configure(Level level) {
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {
      root.removeHandler(h);
    }
    ConsoleHandler h = new ConsoleHandler();
    h.setLevel(Level.ALL);
    h.setFormatter(new Formatter() {
      @Override
      public String format(LogRecord r) {
        String s = String.format("%1$tF %1$tT.%1$tL %2$s %3$s%n", r.getMillis(), r.getLevel(), formatMessage(r));
        if (r.getThrown() != null) {
          s += "  " + r.getThrown() + System.lineSeparator();
        }
        return s;
      }
    });
    root.addHandler(h);
    root.setLevel(level);
    VMLET.setLevel(level);
  }

  static void daemonMode() {
    VMLET.setLevel(Level.INFO);
  }
}
