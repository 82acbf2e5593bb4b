package dev.vmlet.api;

import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DiskSpec;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.security.Access;
import dev.vmlet.security.HostPathException;
import dev.vmlet.security.HostPaths;
import dev.vmlet.security.Role;
import dev.vmlet.spec.VmException;
import dev.vmlet.vm.VmManager;
import dev.vmlet.vm.VmOwner;
import dev.vmlet.vm.VmRecord;
import java.nio.file.Path;
import java.util.List;

/**
 * Before every start, the host files and devices a VM's spec names are decided again, by
 * {@link HostPaths}, for the caller who created it: they may have changed since (a backing file
 * written into the header of the owner's image, a link put in place of a file, a TAP given to
 * someone else), and a start must not open what the owner may no longer use. The files the
 * daemon itself put in the VM's directory (a cloud image's root disk) are left out.
 */
public final class OwnerChecks implements VmManager.StartCheck {
  private final HostPaths paths;

  public OwnerChecks(HostPaths paths) {
    this.paths = paths;
  }

  @Override
  public void check(VmRecord record, Path daemonOwned) {
    VmOwner owner = record.owner();
    if (owner == null) {
      return; // made before owners were kept, or in-process
    }
    VmSpec spec = VmSpecs.spec(record.config());
    List<DiskSpec> users = spec.getDisksList().stream()
        .filter(d -> d.getBaseImage().isEmpty() || !Path.of(d.getBaseImage()).startsWith(daemonOwned)).toList();
    try {
      paths.check(caller(owner), CreateVmRequest.newBuilder().setSpec(spec.toBuilder().clearDisks().addAllDisks(users)).build());
    } catch (HostPathException e) {
      throw new VmException(VmException.Kind.FAILED_PRECONDITION, "VM '" + record.config().name() + "' was created by "
          + owner.name() + ", who may no longer use what it names: " + e.getMessage());
    }
  }

  /** The owner to keep for the caller of this call; null without one (in-process, no interceptor). */
  static VmOwner owner(Access.Caller c) {
    if (c == null) {
      return null;
    }
    return new VmOwner(c.name(), c.role().label(), c.local() == null ? null : c.local().uid(),
        c.local() == null ? null : c.local().gid());
  }

  static Access.Caller caller(VmOwner o) {
    return new Access.Caller(o.name(), Role.parse(o.role()), o.uid() == null ? null : new Access.Local(o.uid(), o.gid()));
  }
}
