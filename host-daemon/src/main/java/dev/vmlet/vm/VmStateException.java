package dev.vmlet.vm;

import dev.vmlet.spec.VmException;

/** An operation does not fit the VM's current state. */
public final class VmStateException extends VmException {
  public VmStateException(String vm, VmState state, String action) {
    super(Kind.FAILED_PRECONDITION, "cannot " + action + " VM '" + vm + "': it is " + state);
  }
}
