package dev.vmlet.it;

import com.google.gson.JsonElement;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The docker command line for the container tests: each call bounded, its output kept, a failure
 * an AssertionError with the command and what it printed. The tests need the Engine and a swarm,
 * which ./scripts/test provides (scripts/lib/deps.sh: vmlet_ensure_docker); without them they are
 * skipped with that said.
 */
final class Docker {
  static final Duration CALL = Duration.ofMinutes(3);
  /** The repository root, seen from the integration-tests module Failsafe runs in. */
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  private Docker() {}

  record Result(int exitCode, String stdout, String stderr) {
    boolean ok() {
      return exitCode == 0;
    }
  }

  /** Skips the calling test class unless dockerd answers and, with {@code swarm}, is in a swarm. */
  static void assume(boolean swarm) {
    Result info = run(Map.of(), Duration.ofSeconds(30), "info", "--format", "{{.Swarm.LocalNodeState}}");
    Assumptions.assumeTrue(info.ok(), "Docker Engine does not answer (" + info.stderr().strip()
        + "); ./scripts/test installs docker.io and starts dockerd");
    Assumptions.assumeTrue(!swarm || info.stdout().strip().equals("active"),
        "this Docker Engine is in no swarm; ./scripts/test makes a one-node swarm (and leaves it again)");
  }

  /** Builds the node image with ./scripts/image (seconds when it is up to date) and returns its tag. */
  static String nodeImage() {
    long t0 = System.nanoTime();
    Result r = exec(Map.of(), Duration.ofMinutes(20), List.of(ROOT.resolve("scripts/image").toString()));
    if (!r.ok()) {
      throw new AssertionError("scripts/image failed (" + r.exitCode() + "):\n" + r.stderr() + r.stdout());
    }
    String tag = r.stdout().strip().lines().reduce((a, b) -> b).orElseThrow();
    System.out.printf("node image %s ready in %.1f s%n", tag, (System.nanoTime() - t0) / 1e9);
    return tag;
  }

  /** Runs docker and returns its stdout, stripped; a failure is an AssertionError. */
  static String out(String... args) {
    return ok(run(Map.of(), CALL, args), args);
  }

  static String out(Map<String, String> env, String... args) {
    return ok(run(env, CALL, args), args);
  }

  /** {@code docker inspect --format '{{json FIELD}}' ID} as JSON. */
  static JsonElement inspect(String id, String field) {
    return JsonParser.parseString(out("inspect", "--format", "{{json " + field + "}}", id));
  }

  static Result run(Map<String, String> env, Duration timeout, String... args) {
    List<String> argv = new ArrayList<>(List.of("docker"));
    argv.addAll(List.of(args));
    return exec(env, timeout, argv);
  }

  private static String ok(Result r, String... args) {
    if (!r.ok()) {
      throw new AssertionError("docker " + String.join(" ", args) + " failed (" + r.exitCode() + "): "
          + r.stderr().strip() + " " + r.stdout().strip());
    }
    return r.stdout().strip();
  }

  private static Result exec(Map<String, String> env, Duration timeout, List<String> argv) {
    try {
      ProcessBuilder pb = new ProcessBuilder(argv).directory(ROOT.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      p.getOutputStream().close();
      CompletableFuture<String> out = drain(p.getInputStream());
      CompletableFuture<String> err = drain(p.getErrorStream());
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(String.join(" ", argv) + " did not finish within " + timeout.toSeconds() + " s");
      }
      return new Result(p.exitValue(), out.join(), err.join());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static CompletableFuture<String> drain(InputStream in) {
    return CompletableFuture.supplyAsync(() -> {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      try (in) {
        in.transferTo(b);
      } catch (IOException e) {
        // the process went away; what it printed so far is kept
      }
      return b.toString(StandardCharsets.UTF_8);
    });
  }

  /** The NoNewPrivs and CapEff lines of a host process's status (a container's, seen from the host). */
  static String privileges(long pid) throws IOException {
    return String.join(", ", Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
        .filter(l -> l.startsWith("NoNewPrivs:") || l.startsWith("CapEff:") || l.startsWith("CapBnd:") || l.startsWith("Name:"))
        .map(l -> l.replaceAll("\\s+", " ")).toList());
  }

  /** The host's processes in the container {@code id} (its full id in their cgroup paths). */
  static List<Long> processesIn(String id) throws IOException {
    List<Long> out = new ArrayList<>();
    try (var procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.filter(p -> p.getFileName().toString().matches("[0-9]+")).toList()) {
        try {
          if (Files.readString(p.resolve("cgroup")).contains(id)) {
            out.add(Long.parseLong(p.getFileName().toString()));
          }
        } catch (IOException e) {
          // it ended meanwhile
        }
      }
    }
    return out;
  }
}
