package dev.vmlet.vm;

import dev.vmlet.spec.VmConfig;
import dev.vmlet.spec.VmException;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** This host's VMs by name. Thread-safe; a look-up never waits for a VM's owner. */
final class VmTable {
  private final Map<String, VmRuntime> vms = new ConcurrentHashMap<>();

  /** @throws VmException INVALID_ARGUMENT for a malformed name, NOT_FOUND when there is no such VM */
  VmRuntime require(String name) {
    VmConfig.validateName(name);
    VmRuntime vm = vms.get(name);
    if (vm == null) {
      throw VmException.notFound(name);
    }
    return vm;
  }

  /** The VM of this name, or null. */
  VmRuntime find(String name) {
    return vms.get(name);
  }

  /** Adds the VM unless one of its name is there; true if it was added. */
  boolean add(VmRuntime vm) {
    return vms.putIfAbsent(vm.name(), vm) == null;
  }

  void remove(String name) {
    vms.remove(name);
  }

  /** A live view of every VM. */
  Collection<VmRuntime> all() {
    return vms.values();
  }
}
