package dev.vmlet.cli;

import dev.vmlet.client.MetricsText;
import dev.vmlet.daemon.Daemon;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import java.util.ArrayDeque;

/**
 * {@code vmlet top}: the node's VMs from the daemon's metrics endpoint, refreshed every second
 * until q or Ctrl-C; {@code --once} prints one frame (rates over one second) for scripts.
 */
@Command(name = "top", mixinStandardHelpOptions = true,
    description = {"A live view of this node's VMs: state, CPU %%, memory, disk and network rates, agent.",
        "Reads the daemon's metrics (vmlet daemon --metrics HOST:PORT). q or Ctrl-C quits."})
final class TopCommand implements Callable<Integer> {
  static final Duration REFRESH = Duration.ofSeconds(1);
  private static final Duration FETCH_TIMEOUT = Duration.ofSeconds(3);
  /** Alternate screen and hidden cursor on, and off again: the shell's screen comes back as it was. */
  private static final String ENTER = "\033[?1049h\033[?25l";
  private static final String LEAVE = "\033[?25h\033[?1049l";
  private static final String HOME_AND_CLEAR = "\033[H\033[2J";

  @Option(names = "--metrics", paramLabel = "HOST:PORT",
      description = "The daemon's metrics endpoint (default: the address the local daemon wrote to its run directory).")
  String metrics;

  @Option(names = "--socket", paramLabel = "PATH",
      description = "The local daemon's socket, beside which it writes its metrics address (default: as for the other commands).")
  Path socket;

  @Option(names = "--once", description = "Print one frame (rates over one second) and exit.")
  boolean once;

  @Override
  public Integer call() throws Exception {
    String address = address();
    if (once) {
      List<MetricsText.Sample> first = fetch(address);
      long t0 = System.nanoTime();
      Thread.sleep(REFRESH.toMillis());
      List<MetricsText.Sample> second = fetch(address);
      double seconds = (System.nanoTime() - t0) / 1e9;
      System.out.print(TopView.render(header(address), TopView.rows(first, second, seconds), 200));
      return 0;
    }
    if (!Terminal.available()) {
      throw new CliException("vmlet top needs a terminal; use vmlet top --once in scripts");
    }
    live(address);
    return 0;
  }

  private void live(String address) throws IOException, InterruptedException {
    PrintStream out = System.out;
    CountDownLatch quit = new CountDownLatch(1);
    try (Terminal raw = Terminal.raw()) {
      Thread restore = new Thread(() -> out.print(LEAVE), "vmlet-top-restore");
      Runtime.getRuntime().addShutdownHook(restore); // SIGTERM or SIGHUP: give the screen back too
      out.print(ENTER);
      Thread keys = new Thread(() -> readKeys(quit), "vmlet-top-keys");
      keys.setDaemon(true); // blocked in read() when we leave; the JVM does not wait for it
      keys.start();
      // Rates over the last two seconds: the daemon refreshes disk counters once a second, and a
      // one-second window would alternate between seeing one refresh and seeing two.
      ArrayDeque<Scrape> window = new ArrayDeque<>();
      do {
        String frame;
        try {
          Scrape now = new Scrape(fetch(address), System.nanoTime());
          int[] rowsCols = Terminal.size(); // one stty per frame
          Scrape base = window.isEmpty() ? null : window.peekFirst();
          frame = TopView.render(header(address), TopView.rows(base == null ? null : base.samples(), now.samples(),
              base == null ? 0 : (now.atNanos() - base.atNanos()) / 1e9), rowsCols[1], rowsCols[0]);
          window.addLast(now);
          if (window.size() > 2) {
            window.removeFirst();
          }
        } catch (CliException e) {
          frame = header(address) + "\n\n" + e.getMessage() + "\n(retrying every second)\n";
          window.clear();
        }
        // Raw mode: a newline does not return the carriage.
        out.print(HOME_AND_CLEAR + frame.replace("\n", "\r\n"));
        out.flush();
      } while (!quit.await(REFRESH.toMillis(), TimeUnit.MILLISECONDS));
      out.print(LEAVE);
      out.flush();
      Runtime.getRuntime().removeShutdownHook(restore);
    }
  }

  private record Scrape(List<MetricsText.Sample> samples, long atNanos) {}

  /** q, Q, Ctrl-C (raw mode turns it into a byte) and Ctrl-D end the view; so does the end of input. */
  private static void readKeys(CountDownLatch quit) {
    try {
      int c;
      while ((c = System.in.read()) >= 0) {
        if (c == 'q' || c == 'Q' || c == 3 || c == 4) {
          break;
        }
      }
    } catch (IOException e) {
      // the terminal went away: leave as for q
    }
    quit.countDown();
  }

  private static String header(String address) {
    return "vmlet top - " + address + " - " + LocalTime.now().truncatedTo(ChronoUnit.SECONDS) + " - q or Ctrl-C quits";
  }

  private static List<MetricsText.Sample> fetch(String address) throws InterruptedException {
    try {
      return MetricsText.fetch(address, FETCH_TIMEOUT);
    } catch (IOException | IllegalArgumentException e) {
      throw new CliException("cannot read the daemon's metrics at http://" + address + "/metrics: " + e
          + " (is the daemon running with --metrics?)");
    }
  }

  private String address() throws IOException {
    if (metrics != null) {
      return metrics;
    }
    ClientOptions local = new ClientOptions();
    local.socket = socket;
    Path file = Daemon.metricsAddressFile(local.socketPath());
    if (!Files.isRegularFile(file)) {
      throw new CliException("no metrics address in " + file + ": start the daemon with --metrics 127.0.0.1:PORT, or give --metrics HOST:PORT");
    }
    return Files.readString(file).strip();
  }
}
