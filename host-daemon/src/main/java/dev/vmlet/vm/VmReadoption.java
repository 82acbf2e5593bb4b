package dev.vmlet.vm;

import dev.vmlet.qemu.QemuProcess;
import dev.vmlet.share.Virtiofsd;
import dev.vmlet.tpm.Swtpm;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.vfio.Gpus;
import java.io.IOException;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * A daemon's start: loads the persisted VMs and re-adopts the QEMU processes that still run, found
 * by their pidfile, their start time and their name. Nothing is killed: a QEMU that cannot be
 * reached is kept and reported; a VM whose QEMU is gone is marked CRASHED (STOPPED when it was
 * being stopped).
 */
final class VmReadoption {
  private static final Logger LOG = Logger.getLogger(VmReadoption.class.getName());
  private final VmStore store;
  private final VmEvents events;
  private final VmLinks links;
  private final Gpus gpus;

  VmReadoption(VmStore store, VmEvents events, VmLinks links, Gpus gpus) {
    this.store = store;
    this.events = events;
    this.links = links;
    this.gpus = gpus;
  }

  /** Adds every persisted VM to {@code vms}, each as its QEMU is found. */
  void recover(VmTable vms, Function<String, VmFiles> filesOf) {
    for (VmRecord r : store.loadAll()) {
      VmRuntime vm = new VmRuntime(r, filesOf.apply(r.config().name()));
      vms.add(vm);
      VmState s = r.state();
      if (s == VmState.RUNNING || s == VmState.PAUSED || s == VmState.STARTING || s == VmState.STOPPING) {
        synchronized (vm) {
          readopt(vm, r);
        }
      }
    }
    // GPUs a VM still holds that no longer runs (it crashed while no daemon watched) go back now.
    Set<String> running = vms.all().stream().filter(v -> v.now().process() != null).map(VmRuntime::name).collect(Collectors.toSet());
    gpus.recover(running);
  }

  private void readopt(VmRuntime vm, VmRecord r) {
    Optional<ProcessHandle> p = QemuProcess.find(vm.files.pidFile(), r.startedAtMs());
    if (p.isPresent() && p.get().pid() == r.pid()) {
      vm.publish(x -> x.withQemu(p.get(), null));
      try {
        links.connect(vm);
        LOG.info("VM " + vm.name() + " (" + r.instanceId() + "): re-adopted QEMU pid " + r.pid());
      } catch (IOException e) {
        LOG.warning("VM " + vm.name() + ": QEMU pid " + r.pid() + " runs but cannot be reached: " + e.getMessage());
        vm.publish(x -> x.withRecord(x.record().withError("re-adopt failed: " + e.getMessage())));
      }
    } else {
      // Its virtiofsd processes (shares) and swtpm end with it; one that never saw QEMU connect would stay.
      Virtiofsd.stopAll(vm.files.runDir());
      Swtpm.stop(vm.files.runDir());
      VmState to = r.state() == VmState.STOPPING ? VmState.STOPPED : VmState.CRASHED;
      events.transition(vm, to, "recover", x -> x.withError("QEMU (pid " + r.pid() + ") exited while the daemon was down"));
      store.save(vm.record());
    }
  }
}
