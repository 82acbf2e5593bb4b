package dev.vmlet.vm;

import dev.vmlet.agent.AgentLink;
import dev.vmlet.console.ConsoleLink;
import dev.vmlet.proto.v1.Hello;
import dev.vmlet.qemu.VmFiles;
import dev.vmlet.qmp.QmpClient;

/**
 * One VM as the manager holds it: the persisted record plus the live connections. Guarded by its
 * own monitor; {@link VmManager} is the only writer.
 */
final class VmRuntime {
  VmRecord record;
  final VmFiles files;
  ProcessHandle process;
  QmpClient qmp;
  AgentLink agent;
  ConsoleLink console;
  Hello hello;
  long agentReadyAtMs;
  String agentBootId = "";  // the boot whose agent last said Hello: a new session of the same boot keeps agentReadyAtMs
  String agentRefusal;      // why the last Hello was refused (protocol versions), until a Hello is accepted
  /** Cloud images: cloud-init and SSH readiness of the current boot; replaced at every start. */
  BootTimeline timeline;
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
