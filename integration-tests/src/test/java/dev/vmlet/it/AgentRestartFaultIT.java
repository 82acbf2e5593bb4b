package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.faults.Faults;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.vmlet.api.ApiEnums;

/**
 * Fault suite: the agent in a real guest killed with SIGKILL (the micro image's init starts it
 * again), and the guest rebooted; the link must come back each time, with a new agent session.
 * Short form: 3 agent kills and 1 reboot; long: 100 and 10. (The protocol-level 100 restarts and
 * 100 host reconnections run in SessionProtocolTest.)
 */
class AgentRestartFaultIT {
  @TempDir Path tmp;
  private TestDaemon d;

  @AfterEach
  void close() throws Exception {
    if (d != null) {
      d.close();
    }
  }

  /** The answering agent's pid and the guest's boot id, or null while no agent answers. */
  private String[] agentAndBoot(String name) {
    try {
      Guests.Result r = Guests.exec(d.client, name, "sh", "-c", "echo $PPID; cat /proc/sys/kernel/random/boot_id");
      String[] lines = r.stdout().strip().split("\n");
      return r.exitCode() == 0 && lines.length == 2 ? lines : null;
    } catch (StatusRuntimeException e) {
      return null; // no agent (yet), or the old one's session just ended
    }
  }

  /** Polls for up to 120 s until an agent answers whose pid (when pid) or boot (otherwise) differs. */
  private String[] awaitNew(String name, String[] before, boolean pid) throws Exception {
    int which = pid ? 0 : 1;
    return Poll.forValue("VM " + name + ": a new " + (pid ? "agent" : "boot") + " to answer", Duration.ofSeconds(120), () -> {
      String[] now = agentAndBoot(name);
      return now != null && !now[which].equals(before[which]) ? now : null;
    });
  }

  @Test
  void theAgentKilledAndTheGuestRebooted_theLinkComesBackEachTime() throws Exception {
    d = TestDaemon.start(tmp);
    int kills = Faults.pick(3, 100);
    int reboots = Faults.pick(1, 10);
    String name = "ar";
    d.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder()
        .setSpec(VmSpec.newBuilder().setName(name).setMemoryMib(384)).setStart(true).build());
    Vm vm = Guests.waitReady(d.client, name);
    String[] agent = agentAndBoot(name);
    assertThat(agent).isNotNull();

    List<Long> agentBackMs = new ArrayList<>();
    for (int i = 0; i < kills; i++) {
      long killedAt = System.nanoTime();
      try {
        Guests.exec(d.client, name, "kill", "-9", agent[0]); // $PPID of the agent's programs: the agent
      } catch (StatusRuntimeException expected) {
        // the agent that ran it is gone: the call may fail with that reason
      }
      String[] next = awaitNew(name, agent, true);
      agentBackMs.add((System.nanoTime() - killedAt) / 1_000_000);
      assertThat(next[1]).as("no reboot").isEqualTo(agent[1]);
      agent = next;
    }

    List<Long> rebootBackMs = new ArrayList<>();
    for (int i = 0; i < reboots; i++) {
      long rebootAt = System.nanoTime();
      d.client.vms().withDeadlineAfter(60, TimeUnit.SECONDS).rebootVm(VmRef.newBuilder().setName(name).build());
      agent = awaitNew(name, agent, false);
      rebootBackMs.add((System.nanoTime() - rebootAt) / 1_000_000);
    }
    Faults.report("agent killed, guest rebooted", String.format(
        "micro VM (%s): agent killed with SIGKILL %d times, link back %d/%d (%s from the kill to a command answered by the new agent);"
            + " guest rebooted %d times, link back %d/%d (%s from RebootVm to a command answered in the new boot)",
        ApiEnums.word(vm.getAccel()), kills, agentBackMs.size(), kills, Faults.medianMax(agentBackMs), reboots, rebootBackMs.size(), reboots,
        Faults.medianMax(rebootBackMs)));
  }
}
