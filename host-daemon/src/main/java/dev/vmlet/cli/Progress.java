package dev.vmlet.cli;

/**
 * A one-line elapsed-time counter on stderr for long waits, shown only on a terminal: pipes and
 * scripts see nothing of it.
 */
final class Progress implements AutoCloseable {
  private final Thread ticker;

  private Progress(String what) {
    long t0 = System.nanoTime();
    ticker = new Thread(() -> {
      try {
        while (true) {
          Thread.sleep(1000);
          System.err.printf("\r  %s... %d s ", what, (System.nanoTime() - t0) / 1_000_000_000L);
          System.err.flush();
        }
      } catch (InterruptedException e) {
        System.err.print("\r\033[K");
        System.err.flush();
      }
    }, "progress");
    ticker.setDaemon(true);
  }

  static Progress start(String what) {
    Progress p = new Progress(what);
    if (System.console() != null) {
      p.ticker.start();
    }
    return p;
  }

  @Override
  public void close() {
    if (ticker.isAlive()) {
      ticker.interrupt();
      try {
        ticker.join(1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
