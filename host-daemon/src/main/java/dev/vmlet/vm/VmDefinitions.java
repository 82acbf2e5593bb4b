package dev.vmlet.vm;

import dev.vmlet.fs.FileTrees;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import java.util.logging.Logger;
import com.sun.management.OperatingSystemMXBean;

/**
 * Adds VMs to this host and removes them: a create checks all it can before it writes anything (a
 * refused create leaves nothing), a delete refuses before it changes anything when the state
 * directory cannot take it.
 */
final class VmDefinitions {
  private static final Logger LOG = Logger.getLogger(VmDefinitions.class.getName());
  private final VmTable vms;
  private final VmStore store;
  private final VmEvents events;
  private final LaunchPlanner planner;
  private final VmTeardown teardown;

  VmDefinitions(VmTable vms, VmStore store, VmEvents events, LaunchPlanner planner, VmTeardown teardown) {
    this.vms = vms;
    this.store = store;
    this.events = events;
    this.planner = planner;
    this.teardown = teardown;
  }

  /** See {@link VmManager#create(VmConfig, boolean, VmOwner)}; returns the VM, CREATED. */
  VmRuntime create(VmConfig config, VmOwner owner, VmFiles files) {
    return create(config, owner, files, null);
  }

  /** @param template the directory of the template a clone is made from, or null */
  VmRuntime create(VmConfig config, VmOwner owner, VmFiles files, Path template) {
    long hostMib = hostMemoryMib();
    if (config.memoryMib() > hostMib) {
      throw VmException.invalid("memory_mib " + config.memoryMib() + " is more than this host has (" + hostMib + " MiB)");
    }
    String instanceId = UUID.randomUUID().toString();
    VmRuntime vm = new VmRuntime(VmRecord.created(config, instanceId, null), files);
    if (!vms.add(vm)) {
      throw new VmException(VmException.Kind.ALREADY_EXISTS, "a VM named '" + config.name() + "' already exists");
    }
    // Check what can be checked before anything is written, so a refused create leaves nothing.
    VmRecord r;
    try {
      planner.checkHost(config, files);
      try {
        VmConfig prepared = planner.prepareCloudImage(config, files, template);
        r = VmRecord.created(prepared, instanceId, owner);
        synchronized (vm) {
          vm.publish(x -> x.withRecord(r));
        }
        store.save(r);
      } catch (IOException | RuntimeException e) {
        FileTrees.deleteTree(files.stateDir());
        throw e instanceof RuntimeException re ? re
            : new VmException(VmException.Kind.INTERNAL, "cannot prepare VM '" + config.name() + "': " + e.getMessage(), e);
      }
    } catch (RuntimeException e) {
      vms.remove(config.name());
      throw e;
    }
    LOG.info("VM " + config.name() + " (" + r.instanceId() + "): created");
    return vm;
  }

  /** See {@link VmManager#delete}. */
  void delete(VmRuntime vm, boolean force) {
    String name = vm.name();
    synchronized (vm) {
      VmState s = vm.record().state();
      boolean live = s == VmState.RUNNING || s == VmState.PAUSED || s == VmState.STARTING || s == VmState.STOPPING;
      if (!force) {
        VmTransitions.require(name, s, VmTransitions.Operation.DELETE);
      }
      if (!Files.isWritable(store.dirOf(name).getParent())) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, "cannot delete VM '" + name + "': its state directory "
            + store.dirOf(name) + " is not writable (read-only file system?); nothing was changed; make it writable and retry");
      }
      if (live) {
        teardown.stop(vm, true, Duration.ZERO);
      }
      store.delete(name);
      FileTrees.deleteTree(vm.files.runDir());
      vms.remove(name);
      events.emit(vm, LifecycleEvent.Kind.DELETED, "deleted");
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): deleted");
    }
  }

  private static long hostMemoryMib() {
    var os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    return os.getTotalMemorySize() / (1024 * 1024);
  }
}
