package dev.vmlet.daemon;

import dev.vmlet.client.DaemonClient;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.vmlet.config.VmletPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import java.util.List;
import java.util.concurrent.TimeUnit;

class DaemonStartTest {
  @TempDir Path dir;

  @Test
  void anUnwritableStateDirectory_makesTheDaemonRefuseToStart_withoutServing() throws Exception {
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
    VmletPaths paths = new VmletPaths(file.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
    assertThatThrownBy(() -> Daemon.start(paths, "qemu-system-x86_64"))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("the state directory " + file.resolve("state") + " is not writable")
        .hasMessageContaining("--state-dir");
    assertThat(dir.resolve("run/vmlet.sock")).doesNotExist();
  }

  @Test
  void aSecondDaemonOnTheSameSocket_isRefused() throws Exception {
    VmletPaths paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
    try (Daemon first = Daemon.start(paths, "qemu-system-x86_64")) {
      assertThatThrownBy(() -> Daemon.start(paths, "qemu-system-x86_64"))
          .hasMessageContaining("a vmlet daemon already listens on " + paths.socket());
      assertThat(DaemonClient.isListening(paths.socket())).isTrue();
    }
    assertThat(paths.socket()).doesNotExist();
  }

  @Test
  void health_answersServingForTheDaemonAndEachService_andNotFoundForOthers() throws Exception {
    VmletPaths paths = new VmletPaths(dir.resolve("state"), dir.resolve("run"), dir.resolve("cache"), dir.resolve("run/vmlet.sock"));
    try (Daemon daemon = Daemon.start(paths, "qemu-system-x86_64"); DaemonClient client = new DaemonClient(paths.socket())) {
      for (String service : List.of("", "vmlet.v1.VmService", "vmlet.v1.NodeService")) {
        var reply = client.health().withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.newBuilder().setService(service).build());
        assertThat(reply.getStatus()).as(service).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
      }
      assertThatThrownBy(() -> client.health().withDeadlineAfter(10, TimeUnit.SECONDS)
          .check(HealthCheckRequest.newBuilder().setService("vmlet.v1.NoSuchService").build()))
          .hasMessageContaining("NOT_FOUND");
    }
  }
}
