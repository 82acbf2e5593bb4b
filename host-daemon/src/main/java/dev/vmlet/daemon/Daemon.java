package dev.vmlet.daemon;

import dev.vmlet.config.VmletPaths;
import dev.vmlet.image.MicroImageResolver;
import dev.vmlet.qemu.AccelProbe;
import dev.vmlet.vm.VmManager;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/** A whole running daemon: the VM manager (with re-adopted VMs) behind the gRPC server. */
public final class Daemon implements AutoCloseable {
  public static final String DEFAULT_QEMU = "qemu-system-x86_64";

  private final VmManager manager;
  private final DaemonServer server;

  private Daemon(VmManager manager, DaemonServer server) {
    this.manager = manager;
    this.server = server;
  }

  /** Recovers persisted VMs, then starts serving on {@code paths.socket()}. */
  public static Daemon start(VmletPaths paths, String qemuBinary) throws IOException {
    AccelProbe probe = new AccelProbe(qemuBinary, Path.of("/dev/kvm"), Duration.ofSeconds(3));
    VmManager manager = new VmManager(paths, new MicroImageResolver(paths), probe, qemuBinary, Clock.systemUTC());
    manager.recover();
    DaemonServer server = new DaemonServer(paths.socket(), manager);
    try {
      server.start();
    } catch (IOException e) {
      manager.close();
      throw e;
    }
    return new Daemon(manager, server);
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /** Stops serving and closes VM links; the VMs keep running for the next daemon to adopt. */
  @Override
  public void close() throws InterruptedException {
    server.close();
    manager.close();
  }
}
