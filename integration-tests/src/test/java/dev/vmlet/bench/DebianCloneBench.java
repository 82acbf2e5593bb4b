package dev.vmlet.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.vmlet.common.testing.Poll;
import dev.vmlet.it.BenchSupport;
import dev.vmlet.proto.v1.CreateTemplateRequest;
import dev.vmlet.proto.v1.CreateVmRequest;
import dev.vmlet.proto.v1.DeleteVmRequest;
import dev.vmlet.proto.v1.Template;
import dev.vmlet.proto.v1.Vm;
import dev.vmlet.proto.v1.VmRef;
import dev.vmlet.proto.v1.VmSpec;
import dev.vmlet.proto.v1.WaitAgentReadyRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Not part of the test run: {@code ./scripts/bench clone -Dbench.clone.image=debian}. A template of
 * a Debian cloud VM (2 vCPUs, 1 GiB, cloud-init done), then in turns a cold boot of the Debian image
 * (a new VM: cloud-init's first boot installs the agent) and a clone of the template, each timed from
 * CreateVm (started) to the agent ready and an exec of {@code true} answered; and, for the clones,
 * QEMU's start to the agent ready as the daemon recorded it.
 */
class DebianCloneBench {
  private static final int MEMORY_MIB = 1024;

  @TempDir Path tmp;

  @Test
  void debianCloneToReady_nextToColdBoot() throws Exception {
    int runs = Bench.runs();
    try (BenchSupport.MicroNode node = BenchSupport.debianNode(tmp)) {
      launchToExec(node, "src", "");
      Poll.until("cloud-init done in src", Duration.ofSeconds(900),
          () -> node.client.vms().getVm(VmRef.newBuilder().setName("src").build()).getCloudInitDoneUnixMs() > 0);
      long t0 = System.nanoTime();
      Template t = node.client.vms().withDeadlineAfter(15, TimeUnit.MINUTES)
          .createTemplate(CreateTemplateRequest.newBuilder().setName("tpl").setVm("src").build());
      double made = (System.nanoTime() - t0) / 1e9;
      delete(node, "src");
      Bench.report("debian template (" + MEMORY_MIB + " MiB guest): made in (s) / saved state / everything (MiB)",
          String.format("%.1f / %.1f / %.1f", made, t.getStateBytes() / 1048576.0, t.getSizeBytes() / 1048576.0));

      List<Double> cold = new ArrayList<>();
      List<Double> clone = new ArrayList<>();
      List<Double> cloneReady = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        cold.add(launchToExec(node, "cold" + i, ""));
        clone.add(launchToExec(node, "clone" + i, "tpl"));
        Vm v = node.client.vms().getVm(VmRef.newBuilder().setName("clone" + i).build());
        cloneReady.add((v.getAgentReadyAtUnixMs() - v.getStartedAtUnixMs()) / 1000.0);
        delete(node, "cold" + i);
        delete(node, "clone" + i);
      }
      Bench.report("debian: launch to exec answered, cold boot (s)", Bench.stats(cold, "%.2f"));
      Bench.report("debian: launch to exec answered, clone of a template (s)", Bench.stats(clone, "%.2f"));
      Bench.report("debian clone: QEMU start to agent ready (s)", Bench.stats(cloneReady, "%.2f"));
      new Bench.Chart("clone-launch-debian.png", "Debian VM: launch to exec answered (s, medians, same run)", "s")
          .bar("seconds", "cold boot", Bench.median(cold))
          .bar("seconds", "clone of a template", Bench.median(clone))
          .write();
    }
  }

  /** Seconds from CreateVm (started) to the agent ready and an exec answered. */
  private static double launchToExec(BenchSupport.MicroNode node, String name, String template) {
    long t0 = System.nanoTime();
    VmSpec.Builder spec = VmSpec.newBuilder().setName(name);
    if (template.isEmpty()) {
      spec.setImage("debian").setVcpus(2).setMemoryMib(MEMORY_MIB);
    }
    node.client.vms().withDeadlineAfter(300, TimeUnit.SECONDS).createVm(CreateVmRequest.newBuilder().setSpec(spec)
        .setTemplate(template).setStart(true).build());
    // Generous: a cold Debian boot on a loaded 2-core host took minutes (docs/benchmarks.md).
    node.client.vms().withDeadlineAfter(920, TimeUnit.SECONDS)
        .waitAgentReady(WaitAgentReadyRequest.newBuilder().setName(name).setTimeoutSeconds(900).build());
    assertThat(node.exec(name, "true")).isZero();
    return (System.nanoTime() - t0) / 1e9;
  }

  private static void delete(BenchSupport.MicroNode node, String name) {
    node.client.vms().withDeadlineAfter(120, TimeUnit.SECONDS).deleteVm(DeleteVmRequest.newBuilder().setName(name).setForce(true).build());
  }
}
