package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.proto.agent.v1.Hello;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.qmp.QmpClient;

/**
 * One VM as the manager holds it: the persisted record plus the live connections. Writers hold its
 * monitor, so changes to one VM happen one at a time ({@link VmManager} and {@link VmLinks} are the
 * only writers). Readers take no lock: every field is volatile and holds an immutable value or a
 * thread-safe link, so a {@code vmlet list} never waits for a stop that is waiting out a guest.
 * Writers that take a VM down drop its links before they write the new record, so a reader that
 * reads {@link #record} first never pairs a stopped record with a live link.
 */
final class VmRuntime {
  volatile VmRecord record;
  final VmFiles files;
  volatile ProcessHandle process;
  volatile QmpClient qmp;
  volatile AgentLink agent;
  volatile ConsoleLink console;
  volatile Hello hello;
  volatile long agentReadyAtMs;
  volatile String agentBootId = "";  // the boot whose agent last said Hello: a new session of the same boot keeps agentReadyAtMs
  volatile String agentRefusal;      // why the last Hello was refused (protocol versions), until a Hello is accepted
  /** Cloud images: cloud-init and SSH readiness of the current boot; replaced at every start. */
  volatile BootTimeline timeline;
  /** Set by the QMP SHUTDOWN event: true when the guest itself powered off. */
  volatile boolean guestShutdown;

  VmRuntime(VmRecord record, VmFiles files) {
    this.record = record;
    this.files = files;
  }

  String name() {
    return record.config().name();
  }
}
