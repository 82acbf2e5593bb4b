package dev.vmlet.metrics;

import dev.vmlet.qmp.QmpClient;
import dev.vmlet.qmp.QmpException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * Asks each running VM's QEMU for its disk counters ({@code query-blockstats}) on a thread of its
 * own, once per interval, and keeps the last answer of each VM. A scrape reads only this cache, so
 * it never waits on QMP or on a VM operation, and a QEMU that does not answer (frozen, or busy
 * saving a snapshot) delays the sampler by at most {@link #QMP_TIMEOUT} and keeps its last numbers.
 * ({@code /proc} and sysfs cost microseconds and are read at scrape time instead: fresher.)
 */
public final class VmSampler implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(VmSampler.class.getName());
  /** Short: the sampler visits VMs one after another, and a hung QEMU must not hold the others up long. */
  static final Duration QMP_TIMEOUT = Duration.ofMillis(1000);

  /** A VM whose QEMU runs, as the sampler needs it; {@code qmp} null when it has no link yet. */
  public record Running(String name, QmpClient qmp) {}

  /**
   * The last disk counters of one VM.
   *
   * @param atMs when QEMU answered
   */
  public record Sample(List<DiskIo> disks, long atMs) {}

  private final Supplier<List<Running>> running;
  private final LongSupplier clock;
  private final Map<String, Sample> last = new ConcurrentHashMap<>();
  private ScheduledExecutorService thread;

  /** @param running the VMs to sample now; must not block (VmManager's readers take no lock) */
  public VmSampler(Supplier<List<Running>> running, LongSupplier clock) {
    this.running = running;
    this.clock = clock;
  }

  /** Samples every {@code interval} from now on, on one daemon thread. */
  public synchronized void start(Duration interval) {
    thread = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "vmlet-metrics-sampler");
      t.setDaemon(true);
      return t;
    });
    thread.scheduleWithFixedDelay(this::sampleQuietly, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The last sample of {@code vm}, or null when it has none (not running, or not sampled yet). */
  public Sample last(String vm) {
    return last.get(vm);
  }

  private void sampleQuietly() {
    try {
      sample();
    } catch (RuntimeException e) {
      // A bug here must not end the schedule: the next round tries again.
      LOG.warning("metrics sampling failed: " + e);
    }
  }

  /** One round over the running VMs; VMs no longer running lose their sample. */
  void sample() {
    List<Running> now = running.get();
    last.keySet().retainAll(now.stream().map(Running::name).toList());
    for (Running vm : now) {
      QmpClient qmp = vm.qmp();
      if (qmp == null || qmp.isClosed()) {
        continue;
      }
      try {
        last.put(vm.name(), new Sample(DiskIo.parse(qmp.execute("query-blockstats", null, QMP_TIMEOUT)), clock.getAsLong()));
      } catch (QmpException | RuntimeException e) {
        LOG.fine("VM " + vm.name() + ": query-blockstats: " + e.getMessage() + "; keeping the last numbers");
      }
    }
  }

  @Override
  public synchronized void close() {
    if (thread != null) {
      thread.shutdownNow();
    }
  }
}
