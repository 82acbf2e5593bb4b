package dev.vmlet.vm;

/**
 * Who created a VM, kept with it because the host files and devices its spec names are decided
 * again for that caller before every start: they may have changed since. Records from before
 * owners were kept have none; those VMs start as they always did.
 *
 * @param name the caller as the daemon named it ("uid 1001 (alice)", a certificate's name)
 * @param role "viewer", "operator" or "admin"
 * @param uid a local caller's uid; null for a remote caller
 * @param gid a local caller's gid; null for a remote caller
 */
public record VmOwner(String name, String role, Integer uid, Integer gid) {}
