package dev.vmlet.api;

import dev.vmlet.proto.agent.v1.DirEntry;
import dev.vmlet.proto.agent.v1.ExecExit;
import dev.vmlet.proto.agent.v1.FileInfo;
import dev.vmlet.proto.agent.v1.GuestInfo;
import dev.vmlet.proto.agent.v1.GuestInfoReply;
import dev.vmlet.proto.v1.GetGuestInfoResponse;
import dev.vmlet.proto.v1.GuestDisk;
import dev.vmlet.proto.v1.NetworkAddress;

/**
 * What the agent said (vmlet.agent.v1) as the public API says it (vmlet.v1). The two packages have
 * messages of the same shape today, but each may change without the other, so every field is
 * copied by name here, never by reparsing the bytes: a field added to one side then fails to
 * compile or is visibly not carried, instead of silently meaning something else.
 */
final class AgentReplies {
  private AgentReplies() {}

  static dev.vmlet.proto.v1.GuestInfo guest(GuestInfo g) {
    return dev.vmlet.proto.v1.GuestInfo.newBuilder().setOs(g.getOs()).setOsRelease(g.getOsRelease())
        .setKernel(g.getKernel()).setArch(g.getArch()).setHostname(g.getHostname()).build();
  }

  static dev.vmlet.proto.v1.ExecExit exit(ExecExit e) {
    return dev.vmlet.proto.v1.ExecExit.newBuilder().setExitCode(e.getExitCode()).setTimedOut(e.getTimedOut())
        .setCancelled(e.getCancelled()).setSignal(e.getSignal()).build();
  }

  static dev.vmlet.proto.v1.FileInfo fileInfo(FileInfo f) {
    return dev.vmlet.proto.v1.FileInfo.newBuilder().setSize(f.getSize()).setMode(f.getMode())
        .setMtimeUnixMs(f.getMtimeUnixMs()).setUid(f.getUid()).setGid(f.getGid()).build();
  }

  static dev.vmlet.proto.v1.DirEntry dirEntry(DirEntry d) {
    return dev.vmlet.proto.v1.DirEntry.newBuilder().setPath(d.getPath()).setType(type(d.getType()))
        .setSize(d.getSize()).setMode(d.getMode()).setMtimeUnixMs(d.getMtimeUnixMs())
        .setLinkTarget(d.getLinkTarget()).setUid(d.getUid()).setGid(d.getGid()).build();
  }

  private static dev.vmlet.proto.v1.DirEntry.Type type(DirEntry.Type t) {
    return switch (t) {
      case FILE -> dev.vmlet.proto.v1.DirEntry.Type.TYPE_FILE;
      case DIRECTORY -> dev.vmlet.proto.v1.DirEntry.Type.TYPE_DIRECTORY;
      case SYMLINK -> dev.vmlet.proto.v1.DirEntry.Type.TYPE_SYMLINK;
      case OTHER, UNRECOGNIZED -> dev.vmlet.proto.v1.DirEntry.Type.TYPE_OTHER;
    };
  }

  static GetGuestInfoResponse guestInfo(GuestInfoReply r) {
    GetGuestInfoResponse.Builder b = GetGuestInfoResponse.newBuilder()
        .setGuest(guest(r.getGuest())).setAgentVersion(r.getAgentVersion()).setUptimeSeconds(r.getUptimeSeconds())
        .addAllLoadAverage(r.getLoadAverageList()).setMemoryTotalBytes(r.getMemoryTotalBytes())
        .setMemoryAvailableBytes(r.getMemoryAvailableBytes()).setAgentIsRoot(r.getAgentIsRoot())
        .addAllCredentialNames(r.getCredentialNamesList()).setHttpProxy(r.getHttpProxy());
    r.getAddressesList().forEach(a -> b.addAddresses(NetworkAddress.newBuilder()
        .setInterface(a.getInterface()).setAddress(a.getAddress()).setPrefixLength(a.getPrefixLength())));
    r.getDisksList().forEach(d -> b.addDisks(GuestDisk.newBuilder().setMountPoint(d.getMountPoint())
        .setFileSystem(d.getFileSystem()).setTotalBytes(d.getTotalBytes()).setFreeBytes(d.getFreeBytes())));
    return b.build();
  }
}
