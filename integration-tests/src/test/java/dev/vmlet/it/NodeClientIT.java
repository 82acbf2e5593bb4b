package dev.vmlet.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Node.js client example (proto/examples/node/vmlet-client.js), which knows the API only from
 * the .proto files, against a real daemon over its unix socket with a real micro VM: create, start,
 * the agent, exec with stdin, a pushed and pulled file, a piped line, bad inputs, stop, delete and
 * the events of all that. The npm packages come from ./scripts/test (VMLET_NODE_TOOLS).
 */
class NodeClientIT {
  private static final Path EXAMPLE = Path.of("..", "proto", "examples", "node", "vmlet-client.js").toAbsolutePath().normalize();

  @TempDir Path tmp;

  @Test
  void theNodeClientExample_runsTheWholeFlowAgainstARealDaemon() throws Exception {
    Path modules = nodeTools().resolve("node_modules");
    assumeTrue(Files.isDirectory(modules.resolve("@grpc/grpc-js")) && Files.isDirectory(modules.resolve("@grpc/proto-loader")),
        "no @grpc/grpc-js and @grpc/proto-loader in " + modules
            + ": ./scripts/test installs them (or: source scripts/lib/deps.sh; vmlet_ensure_node_tools)");
    try (TestDaemon d = TestDaemon.start(tmp)) {
      Path log = tmp.resolve("node-client.log");
      ProcessBuilder pb = new ProcessBuilder(List.of("node", EXAMPLE.toString(), d.paths.socket().toString(), "node-client"))
          .redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().put("NODE_PATH", modules.toString());
      Process node = pb.start();
      // Bounded: a micro VM boots under TCG on a loaded host within minutes, and every call has a deadline.
      boolean ended = node.waitFor(15, TimeUnit.MINUTES);
      if (!ended) {
        node.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      String out = Files.readString(log, StandardCharsets.UTF_8);
      System.out.println("[node client]\n" + out);
      assertThat(ended).as("the node client ended within 15 minutes").isTrue();
      assertThat(node.exitValue()).as(out).isZero();
      assertThat(out).contains("ok   StopVm blocks until STOPPED; DeleteVm", "all steps passed");
    }
  }

  private static Path nodeTools() {
    String env = System.getenv("VMLET_NODE_TOOLS");
    if (env != null && !env.isEmpty()) {
      return Path.of(env);
    }
    String cache = System.getenv("XDG_CACHE_HOME");
    return (cache != null && !cache.isEmpty() ? Path.of(cache) : Path.of(System.getProperty("user.home"), ".cache"))
        .resolve("vmlet/node-tools");
  }
}
