package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.qmp.QmpClient;
import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.SnapshotInfo;
import dev.vmlet.spec.VmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Logger;
import com.google.gson.JsonObject;
import dev.vmlet.qmp.QmpException;

/**
 * What is done to a VM that exists, beyond starting and stopping it: pause, resume and reset over
 * QMP, disk growth, and snapshots. Each owns the VM (holds its monitor) for its change, like every
 * writer (see {@link VmRuntime}); {@link VmManager} finds the VM and delegates here.
 */
final class VmControls {
  private static final Logger LOG = Logger.getLogger(VmControls.class.getName());
  private final VmStore store;
  private final VmEvents events;
  private final QemuImg qemuImg;
  private final VmSnapshots snapshots;

  VmControls(VmStore store, VmEvents events, QemuImg qemuImg, VmSnapshots snapshots) {
    this.store = store;
    this.events = events;
    this.qemuImg = qemuImg;
    this.snapshots = snapshots;
  }

  /**
   * Grows a disk: live through QMP block_resize when QEMU runs, with qemu-img otherwise. The new
   * size is kept in the VM's config.
   */
  VmRecord resizeDisk(VmRuntime vm, String disk, long sizeMib) {
    String name = vm.name();
    synchronized (vm) {
      DiskConfig d = vm.record().config().disks().stream().filter(x -> x.name().equals(disk)).findFirst()
          .orElseThrow(() -> new VmException(VmException.Kind.NOT_FOUND, "VM '" + name + "' has no disk '" + disk + "'"));
      DiskConfig grown = new DiskConfig(d.name(), d.baseImage(), sizeMib, d.ephemeral());
      Path file = vm.files.disk(disk);
      VmState s = vm.record().state();
      try {
        if (Files.exists(file)) {
          long current = qemuImg.virtualSize(file) >> 20;
          if (sizeMib <= current) {
            throw VmException.invalid("size_mib " + sizeMib + " is not larger than disk '" + disk + "' (" + current
                + " MiB); disks only grow");
          }
          QmpClient qmp = vm.now().qmp();
          if ((s == VmState.RUNNING || s == VmState.PAUSED) && qmp != null) {
            JsonObject args = new JsonObject();
            args.addProperty("device", "disk-" + disk);
            args.addProperty("size", sizeMib << 20);
            qmp.execute("block_resize", args, VmManager.QMP_TIMEOUT);
          } else {
            qemuImg.resize(file, sizeMib);
          }
        }
      } catch (IOException e) {
        throw new VmException(VmException.Kind.INTERNAL, "cannot resize disk '" + disk + "' of VM '" + name + "': "
            + e.getMessage(), e);
      }
      VmRecord resized = vm.publish(x -> x.withRecord(x.record().withConfig(x.record().config().withDisk(grown)))).record();
      store.save(resized);
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): disk " + disk + " is now " + sizeMib + " MiB");
      return vm.record();
    }
  }

  List<SnapshotInfo> listSnapshots(VmRuntime vm) {
    synchronized (vm) {
      return snapshots.list(vm);
    }
  }

  /** Takes a snapshot: with memory when the VM runs or is paused, disk-only when it is stopped. */
  SnapshotInfo createSnapshot(VmRuntime vm, String snapshot) {
    String name = vm.name();
    synchronized (vm) {
      VmTransitions.require(name, vm.record().state(), VmTransitions.Operation.SNAPSHOT);
      if (!vm.record().config().gpus().isEmpty()) {
        throw new VmException(VmException.Kind.FAILED_PRECONDITION, "VM '" + name + "' has passed-through GPUs: QEMU cannot save "
            + "the state of a VFIO device, so it cannot be snapshotted");
      }
      SnapshotInfo s = snapshots.create(vm, snapshot);
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): snapshot " + snapshot + " taken");
      return s;
    }
  }

  void restoreSnapshot(VmRuntime vm, String snapshot) {
    String name = vm.name();
    synchronized (vm) {
      VmTransitions.require(name, vm.record().state(), VmTransitions.Operation.SNAPSHOT);
      snapshots.restore(vm, snapshot);
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): snapshot " + snapshot + " restored");
    }
  }

  void deleteSnapshot(VmRuntime vm, String snapshot) {
    String name = vm.name();
    synchronized (vm) {
      VmTransitions.require(name, vm.record().state(), VmTransitions.Operation.SNAPSHOT);
      snapshots.delete(vm, snapshot);
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): snapshot " + snapshot + " deleted");
    }
  }

  /** Hardware reset; the VM stays RUNNING and its agent phones home again from the new boot. */
  VmRecord reboot(VmRuntime vm) {
    String name = vm.name();
    synchronized (vm) {
      VmTransitions.require(name, vm.record().state(), VmTransitions.Operation.REBOOT);
      runQmp(vm, "system_reset");
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): reset");
      return vm.record();
    }
  }

  /** A QMP command that moves the VM to {@code to} (pause, resume), with the agent's liveness kept in step. */
  VmRecord qmpStep(VmRuntime vm, VmTransitions.Operation op, VmState to, String command) {
    String name = vm.name();
    synchronized (vm) {
      VmTransitions.require(name, vm.record().state(), op);
      store.save(vm.record()); // refused before QEMU is touched when the state cannot be saved
      QemuLinks links = vm.now().links();
      AgentLink agent = links == null ? null : links.agent();
      if (agent != null && to == VmState.PAUSED) {
        agent.suspendLiveness(true); // a frozen guest cannot answer heartbeats
      }
      try {
        runQmp(vm, command);
      } catch (RuntimeException e) {
        if (agent != null && to == VmState.PAUSED) {
          // Not paused after all (a QEMU that does not answer, say): heartbeats count again, or
          // a hung guest's requests would wait forever.
          agent.suspendLiveness(false);
        }
        throw e;
      }
      if (agent != null && to == VmState.RUNNING) {
        agent.suspendLiveness(false);
      }
      events.transition(vm, to, op.name().toLowerCase());
      store.save(vm.record());
      LOG.info("VM " + name + " (" + vm.record().instanceId() + "): " + to);
      return vm.record();
    }
  }

  private void runQmp(VmRuntime vm, String command) {
    QmpClient qmp = vm.now().qmp();
    if (qmp == null) {
      throw new VmException(VmException.Kind.UNAVAILABLE, "VM '" + vm.name() + "' has no QMP connection");
    }
    try {
      qmp.execute(command, null, VmManager.QMP_TIMEOUT);
    } catch (QmpException e) {
      if (e.errorClass().equals(QmpException.NO_ANSWER)) {
        throw new VmException(VmException.Kind.UNAVAILABLE, "QEMU of VM '" + vm.name() + "' did not answer QMP " + command + " within "
            + VmManager.QMP_TIMEOUT.toSeconds() + " s (hung or stopped); a stop still ends it (vmlet stop --force " + vm.name() + ")", e);
      }
      throw new VmException(VmException.Kind.INTERNAL, "QMP " + command + " on VM '" + vm.name() + "' failed: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new VmException(VmException.Kind.INTERNAL, "QMP " + command + " on VM '" + vm.name() + "' failed: " + e.getMessage(), e);
    }
  }
}
