package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.qmp.QmpClient;

/**
 * Everything the daemon holds of one VM at one moment, immutable and published whole (see {@link
 * VmRuntime}), so that a reader never pairs a record of one moment with links or an agent of
 * another: a STOPPED record with the Hello of the boot that followed, or an agent marked ready
 * without the time it became so.
 *
 * @param record what is persisted, as last written
 * @param process the QEMU this daemon holds; null when none runs (or none could be re-adopted)
 * @param links the connections to that QEMU; null while none are open
 * @param agent the agent of that QEMU as its link reported it
 * @param timeline a cloud image's boot milestones for the current boot; null otherwise
 * @param guestShutdown QEMU said SHUTDOWN on the guest's own request: its exit is a stop, not a crash
 */
record VmSnapshot(VmRecord record, ProcessHandle process, QemuLinks links, AgentState agent, BootTimeline timeline,
    boolean guestShutdown) {

  /** A VM as loaded or created: nothing runs. */
  static VmSnapshot of(VmRecord record) {
    return new VmSnapshot(record, null, null, AgentState.NONE, null, false);
  }

  VmSnapshot withRecord(VmRecord r) {
    return new VmSnapshot(r, process, links, agent, timeline, guestShutdown);
  }

  /** A new QEMU (started or re-adopted): its links come next, its agent and boot start from nothing. */
  VmSnapshot withQemu(ProcessHandle p, BootTimeline t) {
    return new VmSnapshot(record, p, null, AgentState.NONE, t, false);
  }

  VmSnapshot withLinks(QemuLinks l) {
    return new VmSnapshot(record, process, l, agent, timeline, guestShutdown);
  }

  VmSnapshot withAgent(AgentState a) {
    return new VmSnapshot(record, process, links, a, timeline, guestShutdown);
  }

  VmSnapshot withGuestShutdown(boolean byGuest) {
    return new VmSnapshot(record, process, links, agent, timeline, byGuest);
  }

  /** QEMU is gone: no process, no links, no agent session (the boot's readiness time stays). */
  VmSnapshot withoutQemu() {
    return new VmSnapshot(record, null, null, agent.lost(), timeline, guestShutdown);
  }

  QmpClient qmp() {
    return links == null ? null : links.qmp();
  }

  /** The agent link, only while the agent is connected (has said an accepted Hello). */
  AgentLink readyAgent() {
    return links == null || agent.hello() == null ? null : links.agent();
  }

  ConsoleLink console() {
    return links == null ? null : links.console();
  }
}
