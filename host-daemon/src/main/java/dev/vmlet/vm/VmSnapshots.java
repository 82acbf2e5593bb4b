package dev.vmlet.vm;

import dev.vmlet.spec.DiskConfig;
import dev.vmlet.spec.PciAddress;
import dev.vmlet.spec.SnapshotInfo;
import dev.vmlet.spec.VmException;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.vmlet.disk.QemuImg;
import dev.vmlet.spec.VmException.Kind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;

/**
 * Internal qcow2 snapshots of one VM. A running or paused VM is snapshotted with its memory by
 * QEMU (HMP savevm/loadvm/delvm over QMP: synchronous, unlike the snapshot-save job); a stopped
 * one disk by disk with qemu-img. Callers hold the VM's monitor.
 */
final class VmSnapshots {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,63}");
  private static final Duration SAVE_TIMEOUT = Duration.ofMinutes(5);

  private final QemuImg qemuImg;

  VmSnapshots(QemuImg qemuImg) {
    this.qemuImg = qemuImg;
  }

  static void validateName(String snapshot) {
    if (snapshot == null || !NAME.matcher(snapshot).matches()) {
      throw VmException.invalid("snapshot name '" + snapshot + "' is not allowed: 1 to 63 letters, digits, '.', '_', '-'");
    }
  }

  /**
   * The snapshots of the first disk, with the memory state QEMU stored in whichever image it chose
   * (with UEFI that is often the variable store, not a disk).
   */
  List<SnapshotInfo> list(VmRuntime vm) {
    Path first = firstDisk(vm);
    try {
      List<SnapshotInfo> out = new ArrayList<>();
      Map<String, Long> state = new HashMap<>();
      for (Path image : images(vm)) {
        for (SnapshotInfo s : qemuImg.snapshots(image)) {
          state.merge(s.name(), s.vmStateBytes(), Math::max);
        }
      }
      for (SnapshotInfo s : qemuImg.snapshots(first)) {
        out.add(new SnapshotInfo(s.name(), s.createdAtMs(), state.getOrDefault(s.name(), s.vmStateBytes())));
      }
      return out;
    } catch (IOException e) {
      throw new VmException(Kind.INTERNAL, "cannot list the snapshots of VM '" + vm.name() + "': " + e.getMessage(), e);
    }
  }

  SnapshotInfo create(VmRuntime vm, String snapshot) {
    validateName(snapshot);
    if (find(vm, snapshot) != null) {
      throw new VmException(Kind.ALREADY_EXISTS, "VM '" + vm.name() + "' already has a snapshot '" + snapshot + "'");
    }
    apply(vm, "savevm", "-c", snapshot);
    SnapshotInfo made = find(vm, snapshot);
    if (made == null) {
      throw new VmException(Kind.INTERNAL, "snapshot '" + snapshot + "' of VM '" + vm.name() + "' was not recorded");
    }
    return made;
  }

  void restore(VmRuntime vm, String snapshot) {
    require(vm, snapshot);
    apply(vm, "loadvm", "-a", snapshot);
  }

  void delete(VmRuntime vm, String snapshot) {
    require(vm, snapshot);
    apply(vm, "delvm", "-d", snapshot);
  }

  private void require(VmRuntime vm, String snapshot) {
    validateName(snapshot);
    if (find(vm, snapshot) == null) {
      throw new VmException(Kind.NOT_FOUND, "VM '" + vm.name() + "' has no snapshot '" + snapshot + "' (see: vmlet snapshot list)");
    }
  }

  private SnapshotInfo find(VmRuntime vm, String snapshot) {
    return list(vm).stream().filter(s -> s.name().equals(snapshot)).findFirst().orElse(null);
  }

  /** Through QEMU when it runs (memory included), else with qemu-img on every disk. */
  private void apply(VmRuntime vm, String hmp, String qemuImgOp, String snapshot) {
    VmState s = vm.record().state();
    try {
      if (s == VmState.RUNNING || s == VmState.PAUSED) {
        refuseLiveWithPassthrough(vm, hmp);
        JsonObject args = new JsonObject();
        args.addProperty("command-line", hmp + " " + snapshot);
        JsonElement out = vm.now().qmp().execute("human-monitor-command", args, SAVE_TIMEOUT);
        String text = out.isJsonPrimitive() ? out.getAsString().strip() : "";
        if (!text.isEmpty()) {
          // HMP reports failure as text in a successful QMP answer.
          throw new VmException(Kind.FAILED_PRECONDITION, hmp + " on VM '" + vm.name() + "' failed: " + text);
        }
      } else {
        for (Path image : images(vm)) {
          qemuImg.snapshot(image, qemuImgOp, snapshot);
        }
      }
    } catch (IOException e) {
      throw new VmException(Kind.INTERNAL, hmp + " " + snapshot + " on VM '" + vm.name() + "' failed: " + e.getMessage(), e);
    }
  }

  /** QEMU cannot save or load the state of a VFIO device; say so before it half-tries. */
  static void refuseLiveWithPassthrough(VmRuntime vm, String hmp) {
    List<PciAddress> gpus = vm.record().config().gpus();
    if (!gpus.isEmpty()) {
      throw new VmException(Kind.FAILED_PRECONDITION, hmp + " is not possible while VM '" + vm.name()
          + "' runs with passed-through devices (gpus: " + gpus.stream().map(PciAddress::value).toList()
          + "): QEMU cannot save their state. Stop the VM for a disk-only snapshot.");
    }
    if (!vm.record().config().shares().isEmpty()) {
      // vhost-user-fs blocks migration, and so QEMU's savevm: virtiofsd's state is not QEMU's to save.
      throw new VmException(Kind.FAILED_PRECONDITION, hmp + " is not possible while VM '" + vm.name()
          + "' runs with shared directories (virtiofs): QEMU cannot save their state. Stop the VM for a disk-only snapshot.");
    }
  }

  /** Every qcow2 image of the VM that holds snapshots: its disks and its UEFI variables. */
  private static List<Path> images(VmRuntime vm) {
    List<Path> out = new ArrayList<>();
    for (DiskConfig d : vm.record().config().disks()) {
      out.add(vm.files.disk(d.name()));
    }
    if (Files.exists(vm.files.uefiVars())) {
      out.add(vm.files.uefiVars());
    }
    return out;
  }

  private static Path firstDisk(VmRuntime vm) {
    List<DiskConfig> disks = vm.record().config().disks();
    if (disks.isEmpty()) {
      throw new VmException(Kind.FAILED_PRECONDITION, "VM '" + vm.name()
          + "' has no disk to hold snapshots; create it with one (--disk name=data,size=1024)");
    }
    Path first = vm.files.disk(disks.get(0).name());
    if (!Files.exists(first)) {
      throw new VmException(Kind.FAILED_PRECONDITION, "VM '" + vm.name() + "' has not been started yet, so its disks do not exist");
    }
    return first;
  }
}
